import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOPosix
import Replication
import Storage
import StreamModel
import Synchronization

/// SSE readers that have caught up with their stream, followed without a task (docs/hot-path.md,
/// step 4).
///
/// A reader at the tail hands its connection over here (`follow`) and its task sleeps. When
/// the stream changes, one pump reads the new bytes once, encodes the data event once, and
/// writes it, with each reader's control event, straight onto every reader's channel from its
/// event loop: one execute per event loop and one write and flush per reader, instead of a
/// task woken, a read, an encoding and an async write per reader.
///
/// A reader goes back to its task (`follow` returns the offset written up to) whenever the
/// general loop has to decide: its channel is not writable (the task then writes with
/// `DeadlineWriter`'s deadline, so a reader that does not read is still cut off and memory
/// stays bounded), the stream was closed, deleted, replaced or changed epoch, more arrived
/// than one shared read holds, its session ended, or its connection went away (the task is
/// cancelled).
///
/// On HTTP/1.1 each event goes in as one buffer already framed as a chunk, from NIO's
/// encoder's context: the handlers above it (Hummingbird's codec, the guards, the async
/// channel's) only pass body parts through, so nothing they hold is skipped, and the
/// connection is the follower's alone while it follows. On HTTP/2 it is a body part written
/// at the stream channel's tail.
///
/// Ordering. The task's own writes went through Hummingbird's async writer, which hands each
/// one to the event loop before `write` returns; the pump's writes are handed over later, and
/// an event loop runs what it is handed in order (a write goes down the pipeline at once:
/// none of the handlers it passes holds body parts back). Everything that ends a follow (`release`)
/// also runs on the reader's event loop, after the writes handed over before it, so the offset
/// it returns is the offset written up to.
final class SSEFanout: Sendable {
    /// One reader following a stream.
    final class Follower: Sendable {
        let channel: any Channel
        let stream: UInt64
        let cursor: String
        let sessionEnd: ContinuousClock.Instant

        private struct State {
            /// Written up to here.
            var written: Offset
            var continuation: CheckedContinuation<Offset, Never>?
            var released = false
        }
        private let state: Mutex<State>
        /// How this reader's body bytes are written, found on the first write (on the loop).
        private let framing: NIOLoopBoundBox<Framing?>

        private enum Framing {
            /// An HTTP/1.1 response NIO's encoder sends chunked: a chunk goes in already framed
            /// (one buffer) from the encoder's context, below Hummingbird's handlers and codecs.
            case chunked(ChannelHandlerContext)
            /// Anything else (HTTP/2 streams): a body part at the pipeline's tail.
            case parts
        }

        init(channel: any Channel, stream: UInt64, position: Offset, cursor: String, sessionEnd: ContinuousClock.Instant) {
            self.channel = channel
            self.stream = stream
            self.cursor = cursor
            self.sessionEnd = sessionEnd
            self.state = Mutex(State(written: position))
            self.framing = .makeEmptyBox(valueType: Framing.self, eventLoop: channel.eventLoop)
        }

        /// Writes one batch's event, on the event loop. False when the reader must go back to
        /// its task instead (released, not writable, gone, or not where the batch starts).
        fileprivate func write(_ event: Event, from: Offset, reaching next: Offset) -> Bool {
            channel.eventLoop.preconditionInEventLoop()
            let go = state.withLock { s in
                guard !s.released, s.written == from, channel.isActive, channel.isWritable else { return false }
                s.written = next
                return true
            }
            guard go else { return false }
            // An empty chunk would end the body; events are never empty, but be sure.
            guard event.bytes.readableBytes > 0 else { return true }
            switch framing.value ?? resolveFraming() {
            case .chunked(let encoder): encoder.writeAndFlush(NIOAny(IOData.byteBuffer(event.chunk)), promise: nil)
            case .parts: channel.writeAndFlush(HTTPResponsePart.body(event.bytes), promise: nil)
            }
            return true
        }

        /// Chunked below the encoder when the connection's `HTTP1Guard` saw this response's head
        /// go out with chunked framing; body parts otherwise.
        private func resolveFraming() -> Framing {
            let pipeline = channel.pipeline.syncOperations
            let resolved: Framing
            if let guardHandler = try? pipeline.handler(type: HTTP1Guard.self), guardHandler.responseIsChunked,
               let encoder = try? pipeline.context(handlerType: HTTPResponseEncoder.self) {
                resolved = .chunked(encoder)
            } else {
                resolved = .parts
            }
            framing.value = resolved
            return resolved
        }

        /// Sets the continuation `release` resumes; resumes it at once if released already
        /// (the task was cancelled before it got here).
        fileprivate func start(_ continuation: CheckedContinuation<Offset, Never>) {
            let written = state.withLock { s -> Offset? in
                guard s.released else {
                    s.continuation = continuation
                    return nil
                }
                return s.written
            }
            if let written { continuation.resume(returning: written) }
        }

        /// Ends the follow with the offset written up to, once. Runs on the event loop, after
        /// every write handed to it before.
        fileprivate func release() {
            channel.eventLoop.preconditionInEventLoop()
            let resume = state.withLock { s -> (CheckedContinuation<Offset, Never>, Offset)? in
                guard !s.released else { return nil }
                s.released = true
                defer { s.continuation = nil }
                return s.continuation.map { ($0, s.written) }
            }
            if let (continuation, written) = resume { continuation.resume(returning: written) }
        }
    }

    private struct Followed {
        /// Readers by the offset the pump has handed bytes over up to.
        var groups: [Offset: [ObjectIdentifier: Follower]] = [:]
        var isJSON: Bool
        var encoding: SSEEncoding
        /// A pump is running for this stream; `dirty` makes it go round once more.
        var pumping = false
        var dirty = false
    }

    private struct Registry {
        var streams: [UInt64: Followed] = [:]
        var count = 0
    }

    /// One batch's bytes for readers of one cursor, in both forms a reader's channel takes.
    struct Event: Sendable {
        /// The SSE bytes: a body part.
        let bytes: ByteBuffer
        /// The same as one HTTP/1.1 chunk: size line, bytes, CRLF.
        let chunk: ByteBuffer

        init(_ bytes: ByteBuffer) {
            self.bytes = bytes
            var chunk = ByteBuffer()
            chunk.reserveCapacity(bytes.readableBytes + 20)
            chunk.writeString(String(bytes.readableBytes, radix: 16))
            chunk.writeStaticString("\r\n")
            chunk.writeImmutableBuffer(bytes)
            chunk.writeStaticString("\r\n")
            self.chunk = chunk
        }
    }

    private let registry = Mutex(Registry())
    private let store: Node
    private let readChunkBytes: Int
    private let metrics: RunnelMetrics

    /// Bytes one pump shares: more than this since the readers' offset and they catch up by
    /// themselves (their task reads in chunks).
    static let maxBatchBytes: UInt64 = SharedTailReads.maxSharedBytes

    init(store: Node, readChunkBytes: Int, metrics: RunnelMetrics) {
        self.store = store
        self.readChunkBytes = readChunkBytes
        self.metrics = metrics
    }

    /// Readers following now.
    var count: Int { registry.withLock { $0.count } }

    /// Follows `meta`'s stream from `position` (the reader has written everything before it)
    /// until the reader must go back to its task; returns the offset written up to. `channel`
    /// is the response's channel (a connection on HTTP/1.1, a stream on HTTP/2); its body parts
    /// are written to it directly.
    func follow(
        _ meta: StreamMeta, from position: Offset, cursor: String, encoding: SSEEncoding,
        channel: any Channel, sessionEnd: ContinuousClock.Instant
    ) async -> Offset {
        let follower = Follower(channel: channel, stream: meta.id, position: position, cursor: cursor, sessionEnd: sessionEnd)
        let key = ObjectIdentifier(follower)
        let written = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                follower.start(continuation)
                let startPump = registry.withLock { r -> Bool in
                    r.streams[meta.id, default: Followed(isJSON: meta.isJSON, encoding: encoding)].groups[position, default: [:]][key] = follower
                    r.count += 1
                    return Self.markDirty(&r, meta.id)
                }
                // An append applied before the registration is picked up by this pump.
                if startPump { pump(meta.id) }
                // After registering: `endAll` either saw this follower or set the flag first.
                if isClosing { channel.eventLoop.execute { follower.release() } }
            }
        } onCancel: {
            channel.eventLoop.execute { follower.release() }
        }
        remove(follower)
        return written
    }

    /// The stream changed (the apply loop's `Node.onChange`).
    func changed(_ ids: Set<UInt64>) {
        let pumps = registry.withLock { r in ids.filter { Self.markDirty(&r, $0) } }
        for id in pumps { pump(id) }
    }

    /// Set once graceful shutdown begins (`endAll`): follows, and the live waits of
    /// `LiveWaiters`, end at once.
    private let closing = Atomic(false)
    var isClosing: Bool { closing.load(ordering: .acquiring) }

    /// Ends every follow, and every one begun later at once (graceful shutdown).
    func endAll() {
        closing.store(true, ordering: .releasing)
        let all = registry.withLock { r in r.streams.values.flatMap { $0.groups.values.flatMap(\.values) } }
        for follower in all { follower.channel.eventLoop.execute { follower.release() } }
    }

    /// Ends the follows whose session has ended (the live waiters' sweeper calls this).
    func expire(now: ContinuousClock.Instant) {
        let expired = registry.withLock { r in
            r.streams.values.flatMap { $0.groups.values.flatMap { $0.values.filter { $0.sessionEnd <= now } } }
        }
        for follower in expired { follower.channel.eventLoop.execute { follower.release() } }
    }

    /// Marks a followed stream changed; true when a pump has to be started for it.
    private static func markDirty(_ r: inout Registry, _ id: UInt64) -> Bool {
        guard r.streams[id] != nil else { return false }
        r.streams[id]!.dirty = true
        guard !r.streams[id]!.pumping else { return false }
        r.streams[id]!.pumping = true
        return true
    }

    /// Forgets a follower. Its group is changed in place in the registry: a copy taken out and
    /// put back would copy the group's dictionary, O(readers) for every reader that leaves.
    private func remove(_ follower: Follower) {
        let id = follower.stream
        let key = ObjectIdentifier(follower)
        registry.withLock { r in
            guard let offset = r.streams[id]?.groups.first(where: { $0.value[key] != nil })?.key else { return }
            r.streams[id]?.groups[offset]?.removeValue(forKey: key)
            r.count -= 1
            if r.streams[id]?.groups[offset]?.isEmpty == true { r.streams[id]?.groups[offset] = nil }
            if let followed = r.streams[id], followed.groups.isEmpty, !followed.pumping { r.streams[id] = nil }
        }
    }

    private func pump(_ id: UInt64) {
        NIOThreadPool.singleton.submit { [self] _ in
            while let (groups, isJSON, encoding) = nextRound(id) {
                for (offset, followers) in groups {
                    serve(id, from: offset, followers, isJSON: isJSON, encoding: encoding)
                }
            }
        }
    }

    /// The groups to serve in the pump's next round, or nil when the stream has not changed
    /// since the last round (the pump then stops).
    private func nextRound(_ id: UInt64) -> ([(Offset, [Follower])], Bool, SSEEncoding)? {
        registry.withLock { r in
            guard var followed = r.streams[id] else { return nil }
            guard followed.dirty else {
                followed.pumping = false
                r.streams[id] = followed.groups.isEmpty ? nil : followed
                return nil
            }
            followed.dirty = false
            r.streams[id] = followed
            return (followed.groups.map { ($0.key, Array($0.value.values)) }, followed.isJSON, followed.encoding)
        }
    }

    /// Hands the bytes after `offset` to the readers there, or sends them back to their tasks.
    private func serve(_ id: UInt64, from offset: Offset, _ followers: [Follower], isJSON: Bool, encoding: SSEEncoding) {
        guard let meta = store.stream(id: id), !meta.closed, !meta.softDeleted,
              offset.epoch == meta.tail.epoch, offset <= meta.tail,
              meta.tail.position - offset.position <= Self.maxBatchBytes
        else { return release(followers) }
        guard offset < meta.tail else { return }
        let chunk: ReadChunk
        do {
            chunk = try store.read(meta, from: offset, maxBytes: readChunkBytes)
        } catch {
            return release(followers)
        }
        guard chunk.upToDate, chunk.nextOffset > offset else { return release(followers) }
        var data = ByteBuffer()
        SSE.writeData(chunk, json: isJSON, encoding: encoding, to: &data)
        // One event per cursor (readers of one interval share theirs): data, then control.
        var events: [String: Event] = [:]
        for follower in followers where events[follower.cursor] == nil {
            var out = data
            SSE.writeControl(next: chunk.nextOffset, cursor: follower.cursor, upToDate: true, closed: false, to: &out)
            events[follower.cursor] = Event(out)
        }
        let next = chunk.nextOffset
        let batch = events
        registry.withLock { r in
            // Only the readers served here move: one registered meanwhile is served from its
            // own offset by the next round. Taken out of the registry while it changes, so its
            // dictionaries are changed in place, not copied.
            guard var followed = r.streams.removeValue(forKey: id) else { return }
            defer { r.streams[id] = followed }
            guard var group = followed.groups.removeValue(forKey: offset) else { return }
            for follower in followers {
                let key = ObjectIdentifier(follower)
                if group.removeValue(forKey: key) != nil { followed.groups[next, default: [:]][key] = follower }
            }
            if !group.isEmpty { followed.groups[offset] = group }
        }
        forEachLoop(followers) { [metrics] group in
            var wrote = 0
            for follower in group {
                if follower.write(batch[follower.cursor]!, from: offset, reaching: next) { wrote += 1 } else { follower.release() }
            }
            metrics.sseFanoutWrote(wrote)
        }
    }

    private func release(_ followers: [Follower]) {
        forEachLoop(followers) { group in for follower in group { follower.release() } }
    }

    /// Runs `body` on each event loop with the followers whose channel it runs: one hop per
    /// event loop.
    private func forEachLoop(_ followers: [Follower], _ body: @escaping @Sendable ([Follower]) -> Void) {
        var byLoop: [ObjectIdentifier: (any EventLoop, [Follower])] = [:]
        for follower in followers {
            let loop = follower.channel.eventLoop
            byLoop[ObjectIdentifier(loop), default: (loop, [])].1.append(follower)
        }
        for (loop, group) in byLoop.values {
            loop.execute { body(group) }
        }
    }
}
