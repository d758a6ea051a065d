import Hummingbird
import NIOCore
import Synchronization

/// Notices when the client has gone: its side of the connection is closed (HTTP/1.1, where
/// the server allows half-closure) or the connection or HTTP/2 stream is gone. Live reads
/// (protocol §8.3–8.4) wait for data for seconds to minutes; without this a reader that
/// disconnects would keep its task until the next write failed.
///
/// Unlike Hummingbird's `consumeWithCancellationOnInboundClose` it does not consume the
/// request stream, so a live read that ends normally leaves a keep-alive connection usable.
/// One instance sits in every connection's (and HTTP/2 stream's) pipeline after HTTP decoding.
final class PeerCloseWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    private struct State {
        var gone = false
        var nextToken = 0
        var callbacks: [Int: @Sendable () -> Void] = [:]
    }
    private let state = Mutex(State())

    /// Calls `callback` once when the peer goes away. Returns a token for `cancel`, or nil
    /// (without calling) when it has gone already.
    func onClose(_ callback: @escaping @Sendable () -> Void) -> Int? {
        state.withLock { state in
            guard !state.gone else { return nil }
            state.nextToken += 1
            state.callbacks[state.nextToken] = callback
            return state.nextToken
        }
    }

    /// Forgets a callback registered with `onClose`, so a keep-alive connection does not
    /// collect them.
    func cancel(_ token: Int) {
        _ = state.withLock { $0.callbacks.removeValue(forKey: token) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { fire() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed? = event as? ChannelEvent { fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }

    private func fire() {
        let callbacks = state.withLock { state -> [@Sendable () -> Void] in
            state.gone = true
            defer { state.callbacks = [:] }
            return Array(state.callbacks.values)
        }
        for callback in callbacks { callback() }
    }
}

/// The request context: Hummingbird's basic one plus the connection (or HTTP/2 stream)
/// channel, which live reads watch for the client going away.
struct RunnelRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

extension RunnelResponder {
    /// Runs `operation`, cancelling it as soon as the client behind `channel` goes away
    /// (`PeerCloseWatcher`); the cancelled operation's `CancellationError` is rethrown.
    func cancellingWhenPeerCloses<T: Sendable>(
        _ channel: any Channel, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        guard let watcher = try? await channel.pipeline.handler(type: PeerCloseWatcher.self).get() else {
            return try await operation()
        }
        let (gone, signal) = AsyncStream<Never>.makeStream()
        guard let token = watcher.onClose({ signal.finish() }) else { throw CancellationError() }
        defer { watcher.cancel(token) }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                for await _ in gone {}
                // Ended by the peer closing, or cancelled because the operation finished.
                if Task.isCancelled { return nil }
                throw CancellationError()
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }
}
