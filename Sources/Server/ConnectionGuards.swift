import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS
import Synchronization

/// Wraps a Hummingbird child channel (HTTP/1.1, or TLS with HTTP/2 by ALPN) with the
/// per-connection limits of `ServerConfiguration`: at most `maxConnections` open at once
/// (a connection beyond it is closed at once), and a TLS handshake that must finish within
/// `tlsHandshakeTimeout`. Every resource a client can hold has a limit and a timeout.
struct GuardedChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value

    let inner: Inner
    let limits: ConnectionLimits
    let tlsHandshakeTimeout: Duration?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard limits.admit() else {
            logger.debug("refusing a connection over the limit", metadata: ["connections.max": "\(limits.maximum)"])
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ConnectionLimits.Refused())
        }
        channel.closeFuture.whenComplete { [limits] _ in limits.release() }
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            if let timeout = tlsHandshakeTimeout,
               let tls = try? channel.pipeline.syncOperations.context(handlerType: NIOSSLServerHandler.self) {
                try channel.pipeline.syncOperations.addHandler(
                    TLSHandshakeTimeout(timeout: timeout), position: .after(tls.handler))
            }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// The count of open connections against `--max-connections`.
final class ConnectionLimits: Sendable {
    struct Refused: Error {}

    let maximum: Int
    private let open = Atomic<Int>(0)

    init(maximum: Int) { self.maximum = maximum }

    /// Takes a slot; false (and nothing taken) when all `maximum` are in use.
    func admit() -> Bool {
        var current = open.load(ordering: .relaxed)
        while current < maximum {
            let (exchanged, original) = open.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release() { open.subtract(1, ordering: .acquiringAndReleasing) }

    var count: Int { open.load(ordering: .relaxed) }
}

/// Closes a TLS connection whose handshake has not completed within `timeout` (a client that
/// connects and never sends a ClientHello). Sits right after the TLS handler, where the
/// handshake-completed event passes.
final class TLSHandshakeTimeout: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: Duration
    private var timer: Scheduled<Void>?

    init(timeout: Duration) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Pass the event on first: the ALPN handler after this one negotiates on it.
        context.fireUserInboundEventTriggered(event)
        if case .handshakeCompleted = event as? TLSUserEvent {
            timer?.cancel()
            timer = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}

extension Duration {
    /// Whole nanoseconds, saturating (for NIO's `TimeAmount`).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? .max : sum
    }
}
