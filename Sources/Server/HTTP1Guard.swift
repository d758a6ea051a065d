import NIOCore
import NIOHTTP1

/// Installs `HTTP1Guard` on an HTTP/1.1 connection. Hummingbird adds
/// `additionalChannelHandlers` after its HTTP-types codec, where neither the raw bytes nor
/// NIO's parse errors of a request that has not started are visible; this handler moves the
/// guard next to NIO's decoder and then removes itself. On an HTTP/2 stream (no HTTP/1.1
/// decoder) it only removes itself.
final class HTTP1GuardInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let headerReadTimeout: Duration?

    init(headerReadTimeout: Duration?) { self.headerReadTimeout = headerReadTimeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        if let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self) {
            let guardHandler = HTTP1Guard(headerReadTimeout: headerReadTimeout)
            try? pipeline.addHandler(guardHandler, position: .after(decoder.handler))
            try? pipeline.addHandler(HTTP1Guard.ByteWatcher(guardHandler), position: .before(decoder.handler))
        }
        pipeline.removeHandler(context: context, promise: nil)
    }
}

/// The HTTP/1.1 connection's guard, between NIO's decoder and Hummingbird's codec:
///
/// - **Parse errors are 400s with a JSON body** (`{"error":{"code","message"}}`, a stable code
///   per `HTTPParserError`) and close the connection. Between requests the guard answers
///   itself; inside a request (a bad chunk in the body) the error goes on to the handler
///   reading the body, which answers, and the guard closes the connection after that answer.
/// - **Header read timeout**: once the first byte of a request arrives, its head must be
///   complete within `headerReadTimeout`, else the connection is closed (slowloris). Idle
///   keep-alive connections are Hummingbird's `idleTimeout`.
final class HTTP1Guard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let headerReadTimeout: Duration?
    private var awaitingHead = true
    private var requestInFlight = false
    private var closeAfterResponse = false
    private var failed = false
    /// When the first byte of the pending request head arrived; `nil` while no head is due.
    private var headStartedAt: NIODeadline?
    /// At most one per connection, re-armed only while a head is pending, so a keep-alive
    /// connection pays a clock read per request, not a timer.
    private var headTimer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// A request with method HEAD came on this connection: its response's body is suppressed
    /// by the encoder, so no response here is taken for chunked (requests are read ahead of
    /// the response in progress, so which request a response answers is not known here).
    private var sawHeadRequest = false
    /// The response in progress has a body that NIO's `HTTPResponseEncoder` sends chunked: its
    /// head has gone out, its end not yet. The SSE fan-out then writes chunks already framed
    /// below the encoder (`SSEFanout.Follower`). Read on the event loop.
    private(set) var responseIsChunked = false

    init(headerReadTimeout: Duration?) { self.headerReadTimeout = headerReadTimeout }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        headTimer?.cancel()
        headTimer = nil
        self.context = nil
    }

    /// Bytes of a request arrived (`ByteWatcher`): start the head's clock if a head is due.
    func bytesArrived() {
        guard awaitingHead, headStartedAt == nil, let headerReadTimeout, let context else { return }
        headStartedAt = .now()
        if headTimer == nil { armHeadTimer(in: .nanoseconds(headerReadTimeout.nanoseconds), context) }
    }

    private func armHeadTimer(in delay: TimeAmount, _ context: ChannelHandlerContext) {
        headTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { self.headTimerFired() }
    }

    /// Closes the connection if the pending head is late; re-arms for the head that is pending
    /// now if it started after the one the timer was armed for; stays unarmed if none is.
    private func headTimerFired() {
        headTimer = nil
        guard let started = headStartedAt, let headerReadTimeout, let context else { return }
        let deadline = started + .nanoseconds(headerReadTimeout.nanoseconds)
        let now = NIODeadline.now()
        if deadline <= now {
            context.channel.close(promise: nil)
        } else {
            armHeadTimer(in: deadline - now, context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            awaitingHead = false
            requestInFlight = true
            headStartedAt = nil
            if head.method == .HEAD { sawHeadRequest = true }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        if case .head(let head) = part { responseIsChunked = Self.encoderChunks(head) && !sawHeadRequest }
        guard case .end = part else {
            context.write(data, promise: promise)
            return
        }
        responseIsChunked = false
        requestInFlight = false
        awaitingHead = true
        if closeAfterResponse {
            let channel = context.channel
            context.writeAndFlush(data).whenComplete { result in
                promise?.completeWith(result)
                channel.close(promise: nil)
            }
        } else {
            context.write(data, promise: promise)
        }
    }

    /// Whether `HTTPResponseEncoder` (framing headers set automatically, its default) frames
    /// the body of a response with this head in chunks: HTTP/1.1, a status that has a
    /// body, and no `Content-Length` (NIO's `correctlyFrameTransportHeaders`).
    static func encoderChunks(_ head: HTTPResponseHead) -> Bool {
        let code = head.status.code
        return head.version.major == 1 && head.version.minor >= 1 && code >= 200 && code != 204 && code != 304
            && !head.headers.contains(name: "content-length")
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        headStartedAt = nil
        if requestInFlight {
            // The handler reading the body gets the error and answers 400; then close.
            closeAfterResponse = true
            context.fireErrorCaught(error)
            return
        }
        guard !failed else { return }
        failed = true
        let apiError = APIError(parseError)
        var body = context.channel.allocator.buffer(capacity: 128)
        body.writeString(apiError.jsonBody)
        var head = HTTPResponseHead(version: .http1_1, status: .badRequest)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "X-Content-Type-Options", value: "nosniff")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Sits before the decoder and tells the guard when request bytes arrive.
    final class ByteWatcher: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        private let owner: HTTP1Guard

        init(_ owner: HTTP1Guard) { self.owner = owner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            owner.bytesArrived()
            context.fireChannelRead(data)
        }
    }
}
