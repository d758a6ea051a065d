import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A response as the load generator sees it: status, headers and how many body bytes came
/// (the bytes themselves only when asked for).
struct BenchResponse {
    var status: UInt = 0
    var headers = HTTPHeaders()
    var body: ByteBuffer?
    var bodyBytes = 0

    var isSuccess: Bool { (200..<300).contains(status) }
}

/// The connection closed (or failed, or timed out) with a request in flight.
struct BenchConnectionError: Error, CustomStringConvertible {
    var description: String
    var timedOut = false

    /// How results count it: `timeout` or `io`.
    static func kind(of error: any Error) -> String {
        (error as? BenchConnectionError)?.timedOut == true ? "timeout" : "io"
    }
}

/// A keep-alive HTTP/1.1 (or HTTPS) connection with at most one request in flight: the
/// closed loop every `runnel bench` workload runs on. `send` must be called on the
/// connection's event loop; `request` is the same for async callers.
struct BenchConnection: Sendable {
    let channel: any Channel
    let target: BenchTarget
    private let handler: NIOLoopBound<ExchangeHandler>

    var eventLoop: any EventLoop { channel.eventLoop }

    /// Opens a connection to `target` on `eventLoop`, speaking TLS when `tls` is given.
    static func connect(to target: BenchTarget, on eventLoop: any EventLoop, tls: NIOSSLContext?) -> EventLoopFuture<BenchConnection> {
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let sni = target.isIPAddress ? nil : target.host
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: sni))
                    }
                    // The heads are built here from fixed strings: skip the per-request header validation.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                }
            }
            .connect(host: target.host, port: target.port)
            .flatMapThrowing { channel in
                let handler = try channel.pipeline.syncOperations.handler(type: ExchangeHandler.self)
                return BenchConnection(channel: channel, target: target, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
            }
    }

    /// A request head with `Host` and, for a body, `Content-Length` set.
    func head(_ method: HTTPMethod, _ uri: String, contentType: String? = nil, bodyLength: Int? = nil) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
        head.headers.add(name: "Host", value: target.hostHeader)
        if let contentType { head.headers.add(name: "Content-Type", value: contentType) }
        if let bodyLength { head.headers.add(name: "Content-Length", value: String(bodyLength)) }
        if let token = Self.token { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return head
    }

    /// The bearer token every benchmark request carries (`RUNNEL_TOKEN`), for nodes with
    /// authentication on (docs/access-control.md).
    static let token: String? = ProcessInfo.processInfo.environment["RUNNEL_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }

    /// Sends one request; the future completes when the whole response has arrived. Body
    /// bytes are counted, kept when `collect` is set, and passed to `onBody` as they come.
    /// A response not complete within `timeout` fails the request and closes the connection.
    func send(
        _ head: HTTPRequestHead, body: ByteBuffer? = nil, collect: Bool = false,
        timeout: TimeAmount? = .seconds(10), onBody: ((ByteBuffer) -> Void)? = nil
    ) -> EventLoopFuture<BenchResponse> {
        let promise = eventLoop.makePromise(of: BenchResponse.self)
        handler.value.send(head, body: body, collect: collect, timeout: timeout, onBody: onBody, completion: promise.completeWith)
        return promise.futureResult
    }

    /// `send` for the measured loop: `completion` is called on the event loop with the
    /// response, with no future allocated per request.
    func send(_ head: HTTPRequestHead, body: ByteBuffer?, completion: @escaping (Result<BenchResponse, any Error>) -> Void) {
        handler.value.send(head, body: body, collect: false, timeout: .seconds(10), onBody: nil, completion: completion)
    }

    /// `send` for async callers (setup and teardown, not the measured loop).
    func request(_ head: HTTPRequestHead, body: ByteBuffer? = nil, collect: Bool = true) async throws -> BenchResponse {
        try await eventLoop.flatSubmit { self.send(head, body: body, collect: collect) }.get()
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// Writes one request at a time and assembles its response.
final class ExchangeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private struct Pending {
        var completion: (Result<BenchResponse, any Error>) -> Void
        var collect: Bool
        var onBody: ((ByteBuffer) -> Void)?
        var deadline: NIODeadline?
        var response = BenchResponse()
    }

    /// How often in-flight requests are checked against their deadline: a timer per
    /// request would cost more than the request at tens of thousands per second.
    private static let watchInterval = TimeAmount.milliseconds(250)

    private var context: ChannelHandlerContext?
    private var pending: Pending?
    private var closed = false
    private var watchdog: Scheduled<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armWatchdog(context.eventLoop.assumeIsolated())
    }

    private func armWatchdog(_ loop: NIOIsolatedEventLoop) {
        watchdog = loop.scheduleTask(in: Self.watchInterval) { [weak self] in
            guard let self, !self.closed else { return }
            self.checkDeadline()
            self.armWatchdog(loop)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watchdog?.cancel()
        self.context = nil
    }

    private func checkDeadline() {
        guard let deadline = pending?.deadline, deadline < .now() else { return }
        fail(BenchConnectionError(description: "no response in time", timedOut: true))
        context?.close(promise: nil)
    }

    func send(
        _ head: HTTPRequestHead, body: ByteBuffer?, collect: Bool, timeout: TimeAmount?, onBody: ((ByteBuffer) -> Void)?,
        completion: @escaping (Result<BenchResponse, any Error>) -> Void
    ) {
        guard let context else {
            preconditionFailure("ExchangeHandler used before it was added to a pipeline")
        }
        guard !closed, pending == nil else {
            completion(.failure(BenchConnectionError(description: closed ? "connection closed" : "request already in flight")))
            return
        }
        pending = Pending(completion: completion, collect: collect, onBody: onBody, deadline: timeout.map { .now() + $0 })
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard pending != nil else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            pending!.response.status = head.status.code
            pending!.response.headers = head.headers
        case .body(var buffer):
            pending!.response.bodyBytes += buffer.readableBytes
            pending!.onBody?(buffer)
            if pending!.collect {
                if pending!.response.body == nil {
                    pending!.response.body = buffer
                } else {
                    pending!.response.body!.writeBuffer(&buffer)
                }
            }
        case .end:
            let done = pending!
            pending = nil
            done.completion(.success(done.response))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        watchdog?.cancel()
        fail(BenchConnectionError(description: "connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        closed = true
        let failed = pending
        pending = nil
        failed?.completion(.failure(error))
    }
}
