import NIOCore
import StreamModel

/// A chunk of a catch-up read (protocol §8.2).
public struct ReadChunk: Sendable {
    /// Byte streams: the data, concatenated, copied once from RocksDB into the buffer a
    /// response sends as it is.
    public var bytes = ByteBuffer()
    /// JSON streams: the stored messages (JSON values), in order, in their stored framing.
    public var messages = FramedMessages()
    /// Where the next read continues.
    public var nextOffset: Offset
    /// Whether the chunk reaches the tail the read started from (no more data right now).
    public var upToDate: Bool
}

extension StateStore {
    /// Reads `meta`'s stream from `from` towards its tail, across its fork chain, stopping
    /// once about `maxBytes` are gathered (a JSON message is never split; at least one unit of
    /// progress is always made). `lookup` resolves fork sources by incarnation id.
    public func read(
        _ meta: StreamMeta, from: Offset, maxBytes: Int, lookup: (UInt64) -> StreamMeta?
    ) throws(StorageError) -> ReadChunk {
        let tail = meta.tail
        guard from < tail else {
            return ReadChunk(nextOffset: max(from, tail), upToDate: true)
        }
        let json = meta.isJSON
        var chunk = ReadChunk(nextOffset: from, upToDate: false)
        var budget = max(1, maxBytes)
        if !json { chunk.bytes.reserveCapacity(Int(min(UInt64(budget), tail.position - from.position))) }
        var position = from.position
        var full = false
        for segment in Self.segments(of: meta, from: from.position, to: tail.position, lookup: lookup) {
            guard !full else { break }
            position = max(position, segment.from)
            try forEachUnit(of: segment.id, from: segment.from, to: segment.to) { start, unit throws(StorageError) in
                // Units are contiguous: a unit past the read position means the data before
                // it was dropped by retention under this read (never skip it silently).
                guard start <= position else {
                    throw StorageError(.dropped, "stream \(segment.id) has no data at \(position) any more")
                }
                let end = min(start + UInt64(unit.count), segment.to)
                if json {
                    let intact = StoredUnit.forEachFrame(unit) { frameStart, body in
                        let messageStart = start + UInt64(frameStart)
                        let messageEnd = start + UInt64(body.upperBound)
                        if messageStart < position || messageEnd > end { return true }
                        if body.count > budget && !chunk.messages.isEmpty {
                            full = true
                            return false
                        }
                        chunk.messages.append(UnsafeRawBufferPointer(rebasing: unit[body]))
                        budget -= min(budget, body.count)
                        position = messageEnd
                        return true
                    }
                    guard intact else {
                        throw StorageError(.corruption, "damaged JSON unit at \(start) of stream \(segment.id)")
                    }
                    if full { return false }
                } else {
                    let lower = Int(max(position, start) - start)
                    let upper = Int(end - start)
                    guard lower < upper else { return true }
                    let take = min(upper - lower, budget)
                    chunk.bytes.writeBytes(UnsafeRawBufferPointer(rebasing: unit[lower..<(lower + take)]))
                    budget -= take
                    position = start + UInt64(lower + take)
                    if lower + take < upper {
                        full = true
                        return false
                    }
                }
                if budget == 0 {
                    full = true
                    return false
                }
                return true
            }
            if !full { position = max(position, segment.to) }
        }
        chunk.nextOffset = Offset(position: position)
        chunk.upToDate = chunk.nextOffset >= tail
        return chunk
    }

    /// The stores a read of `[from, to)` of `meta` touches: fork sources below the fork
    /// offset (recursively), then the stream's own units (protocol §3.1: offsets are shared
    /// with the source, no translation).
    static func segments(
        of meta: StreamMeta, from: UInt64, to: UInt64, lookup: (UInt64) -> StreamMeta?
    ) -> [(id: UInt64, from: UInt64, to: UInt64)] {
        var result: [(id: UInt64, from: UInt64, to: UInt64)] = []
        let base = meta.base.position
        if let fork = meta.fork, from < base, let source = lookup(fork.sourceID) {
            result += segments(of: source, from: from, to: min(to, base), lookup: lookup)
        }
        let own = max(from, base)
        if own < to { result.append((meta.id, own, to)) }
        return result
    }
}
