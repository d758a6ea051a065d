import Replication
import Storage
import StreamModel
import Synchronization

/// Live readers of a stream mostly wait at its tail, and one append wakes them all at once to
/// ask for the same bytes. A read of a small range that ends at the tail is shared: the first
/// reader starts it, every reader asking for the same range awaits that one result. Fan-out to
/// N readers then costs one storage read and one thread-pool hop per append instead of N.
///
/// The bytes below a stream's tail never change, so a range is identified by the stream's
/// incarnation, its start, the tail it was read up to and the byte budget. Memory is bounded:
/// ranges of at most `maxSharedBytes`, the latest range of at most `maxStreams` streams.
final class SharedTailReads: Sendable {
    private struct Key: Hashable {
        var stream: UInt64
        var from: Offset
        var tail: Offset
        var maxBytes: Int
    }

    static let maxSharedBytes: UInt64 = 256 << 10
    static let maxStreams = 256

    private let reads = Mutex<[UInt64: (key: Key, read: Task<ReadChunk, any Error>)]>([:])

    /// The chunk of `meta` from `from`, read by `perform` or by a concurrent reader of the same range.
    func read(
        _ meta: StreamMeta, from: Offset, maxBytes: Int,
        _ perform: @escaping @Sendable () async throws -> ReadChunk
    ) async throws -> ReadChunk {
        guard from.epoch == meta.tail.epoch, from <= meta.tail,
              meta.tail.position - from.position <= Self.maxSharedBytes else {
            return try await perform()
        }
        let key = Key(stream: meta.id, from: from, tail: meta.tail, maxBytes: maxBytes)
        let read = reads.withLock { reads in
            if let shared = reads[meta.id], shared.key == key { return shared.read }
            if reads.count >= Self.maxStreams { reads.removeAll(keepingCapacity: true) }
            let read = Task { try await perform() }
            reads[meta.id] = (key, read)
            return read
        }
        do {
            return try await read.value
        } catch {
            // A failed read is not remembered: the next reader tries again.
            reads.withLock { if $0[meta.id]?.key == key { $0[meta.id] = nil } }
            throw error
        }
    }
}
