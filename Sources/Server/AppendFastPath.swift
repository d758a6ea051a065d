import Foundation
import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOPosix
import Replication
import StreamModel
import Synchronization

/// Installs `AppendFastPath` on an HTTP/1.1 connection (recognised by NIO's HTTP/1.1 decoder
/// in its pipeline), then removes itself; HTTP/2 streams keep the async path. The fast path
/// goes after Hummingbird's `HTTPConnectionStateHandler`, which is added after the additional
/// handlers, so that it sees every request and answer (its idle timeout, `Connection: close`
/// and graceful shutdown count the fast path's requests too): hence on the first read, when
/// the pipeline is complete.
final class AppendFastPathInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let responder: RunnelResponder

    init(responder: RunnelResponder) { self.responder = responder }

    func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        if (try? pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)) == nil {
            pipeline.removeHandler(context: context, promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let pipeline = context.pipeline.syncOperations
        if let state = try? pipeline.context(handlerType: HTTPConnectionStateHandler.self) {
            try? pipeline.addHandler(AppendFastPath(responder: responder), position: .after(state.handler))
        }
        context.fireChannelRead(data)
        pipeline.removeHandler(context: context, promise: nil)
    }
}

/// Appends answered on the connection's event loop, without a task (docs/hot-path.md).
///
/// Sits after Hummingbird's HTTP-types codec. A `POST` to a stream, on any of the three route
/// families, whose headers are well formed and whose credential can be checked at once is
/// taken here: its body is collected into one buffer, the command is built by the same code as
/// the async handler's (`RunnelResponder.appendHeaders`, `appendCommand`, `appendAnswer`), it
/// is proposed with a completion (`Node.propose(_:complete:)`), and the answer is written from
/// the event loop when the entry is applied. Every other request, and every append the checks
/// here would refuse, passes through to Hummingbird unchanged, which gives the exact answer.
///
/// HTTP/1.1 answers in request order: a request that arrives while another one is being
/// answered (by either path) waits in `queued`, and the connection stops reading until it can
/// go on, so a pipelining client cannot make it buffer more than one read's worth.
final class AppendFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private struct Append: Sendable {
        var head: HTTPRequest
        var route: Route
        var path: StreamPath
        var headers: RunnelResponder.AppendHeaders
        var body: ByteBuffer?
        var started: ContinuousClock.Instant
    }

    private enum State {
        /// Between requests.
        case idle
        /// A request's parts go to Hummingbird until its end.
        case passing
        /// An append's body is arriving.
        case collecting(Append)
        /// An append was proposed (or refused); its answer is not written yet.
        case answering(Append)
        /// The connection is closing after an answer: everything else is dropped.
        case closed
    }

    private let responder: RunnelResponder
    private var state = State.idle
    /// Requests handed to Hummingbird whose answers have not been written to their end.
    private var answersOwed = 0
    /// Parts that cannot be handled yet, in arrival order.
    private var queued = CircularBuffer<HTTPRequestPart>()
    /// A `read` held back while parts wait, issued once they have gone.
    private var readHeld = false
    private var context: ChannelHandlerContext?

    init(responder: RunnelResponder) { self.responder = responder }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inRead = true
        queued.append(unwrapInboundIn(data))
        drain()
        inRead = false
    }

    private var draining = false
    /// Whether a part was passed on to Hummingbird by the current `drain`.
    private var forwarded = false
    /// Inside `channelRead`: the read's own `channelReadComplete` follows.
    private var inRead = false

    /// Handles queued parts, in order, as far as the state allows.
    private func drain() {
        // An answer written while handling a part (a refusal needs no proposal) lands here
        // again: the loop below goes on by itself.
        guard !draining else { return }
        draining = true
        defer { draining = false }
        forwarded = false
        while let part = queued.first, handle(part) { queued.removeFirst() }
        // Hummingbird's async channel hands what it was given on to its task at the end of a
        // read; parts forwarded from here (after an answer) need that signal too.
        if forwarded, !inRead, let context { context.fireChannelReadComplete() }
        if queued.isEmpty, readHeld, !isAnswering, let context {
            readHeld = false
            context.read()
        }
    }

    private func forward(_ part: HTTPRequestPart, _ context: ChannelHandlerContext) {
        forwarded = true
        context.fireChannelRead(wrapInboundOut(part))
    }

    private var isAnswering: Bool {
        if case .answering = state { return true }
        return false
    }

    /// The append being answered (only while answering).
    private var answering: Append? {
        if case .answering(let append) = state { return append }
        return nil
    }

    /// Handles one part; false when it has to wait.
    private func handle(_ part: HTTPRequestPart) -> Bool {
        guard let context else { return true }
        switch state {
        case .closed:
            return true
        case .answering:
            return false
        case .passing:
            if case .end = part { state = .idle }
            forward(part, context)
            return true
        case .collecting(var append):
            // The state must let go of the body before it grows, or every chunk would copy
            // the whole body so far (copy-on-write of a shared buffer).
            state = .idle
            switch part {
            case .head:
                // Cannot happen on HTTP/1.1 (a head before the previous end).
                state = .closed
                context.close(promise: nil)
            case .body(var buffer):
                if buffer.readableBytes + (append.body?.readableBytes ?? 0) > responder.configuration.maxBodyBytes {
                    state = .answering(append)
                    var error = APIError(.contentTooLarge, "body_too_large",
                                         "the request body exceeds \(responder.configuration.maxBodyBytes) bytes")
                    error.headers[.connection] = "close"
                    answer(append, error: error, close: true)
                } else if append.body == nil {
                    append.body = buffer
                    state = .collecting(append)
                } else {
                    append.body!.writeBuffer(&buffer)
                    state = .collecting(append)
                }
            case .end:
                state = .answering(append)
                propose(append)
            }
            return true
        case .idle:
            guard case .head(let head) = part else {
                // Stray body or end (never on HTTP/1.1): let the async path deal with it.
                forward(part, context)
                return true
            }
            guard let append = takeable(head) else {
                answersOwed += 1
                state = .passing
                forward(part, context)
                return true
            }
            // An earlier answer is still being written by Hummingbird: wait for it.
            guard answersOwed == 0 else { return false }
            guard authorized(head, append.route) else {
                answersOwed += 1
                state = .passing
                forward(part, context)
                return true
            }
            state = .collecting(append)
            return true
        }
    }

    /// The append `head` starts, if this path takes it: a `POST` to a stream whose headers are
    /// well formed, with no expectation and a declared length within the limit. (The
    /// credential is checked last, once the request is known to be taken, because the check
    /// takes a token of the credential's request rate.)
    private func takeable(_ head: HTTPRequest) -> Append? {
        guard head.method == .post, let target = head.path else { return nil }
        let rawPath = target.firstIndex(of: "?").map { String(target[..<$0]) } ?? target
        var route = Route(path: rawPath)
        if case .bucketStreams(let bucket) = route { route = .stream(.ds, StreamPath(bucket: bucket, name: "streams")) }
        guard case .stream(_, let path) = route,
              head.headerFields[.expect] == nil,
              (try? RequestValidation.check(head)) != nil,
              let headers = try? responder.appendHeaders(head.headerFields)
        else { return nil }
        if case .value(let length) = head.headerFields.single(.contentLength) {
            guard let declared = Int(length), declared <= responder.configuration.maxBodyBytes else { return nil }
        }
        return Append(head: head, route: route, path: path, headers: headers, body: nil, started: .now)
    }

    private func authorized(_ head: HTTPRequest, _ route: Route) -> Bool {
        switch responder.authorizeNow(method: head.method, headers: head.headerFields, route: route) {
        case .open, .allowed: return true
        case .slowPath: return false
        }
    }

    // MARK: Proposing and answering

    /// Bodies above this are turned into a command on NIO's thread pool: copying and encoding
    /// megabytes is work an event loop must not do (it serves other connections meanwhile).
    static let inlineBodyBytes = 256 << 10

    private func propose(_ append: Append) {
        guard let context else { return }
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let responder = responder
        let send: @Sendable () -> Void = {
            let command: AppendStream
            do {
                let body = append.body.map { $0.getBytes(at: $0.readerIndex, length: $0.readableBytes) ?? [] } ?? []
                command = try responder.appendCommand(append.headers, path: append.path, body: body)
            } catch {
                let apiError = responder.apiError(for: error)
                loop.execute { handler.value.answer(append, error: apiError) }
                return
            }
            responder.store.propose(.append(command)) { result in
                loop.execute { handler.value.answered(result) }
            }
        }
        if (append.body?.readableBytes ?? 0) > Self.inlineBodyBytes {
            NIOThreadPool.singleton.submit { _ in send() }
        } else {
            send()
        }
    }

    /// The proposal's answer, back on the event loop.
    private func answered(_ result: Result<CommandResult, ReplicationError>) {
        guard let append = answering else { return }
        switch result {
        case .success(.appended(let outcome)):
            let (status, fields) = responder.appendAnswer(outcome, producer: append.headers.producer)
            write(append, status: status, fields: fields, body: nil)
        case .success(.rejected(let error)):
            answer(append, error: APIError(error))
        case .success:
            answer(append, error: APIError(.internalServerError, "unexpected_result", "append returned an unexpected result"))
        case .failure(let error):
            answer(append, error: responder.apiError(for: error))
        }
    }

    private func answer(_ append: Append, error: APIError, close: Bool = false) {
        write(append, status: error.status, fields: error.responseHeaders, body: ByteBuffer(string: error.jsonBody), close: close)
    }

    /// Writes the answer as the async path would (`RunnelResponder.response`, the stream API's
    /// CORS headers, and the `Date` and `Server` Hummingbird adds), then goes on with the
    /// requests that waited.
    private func write(_ append: Append, status: HTTPResponse.Status, fields: HTTPFields, body: ByteBuffer?, close: Bool = false) {
        guard let context else { return }
        var headers = HTTPFields.standard
        headers.append(contentsOf: fields)
        if let body {
            headers[.contentLength] = String(body.readableBytes)
        } else if status != .noContent {
            // As Hummingbird frames an empty body (a 204 has no length at all).
            headers[.contentLength] = "0"
        }
        if append.route.isCrossOrigin { responder.addCrossOrigin(to: &headers, origin: append.head.headerFields[.origin]) }
        headers[.date] = HTTPDate.now()
        headers[.server] = "runnel"
        let closing = close || append.head.headerFields[.connection]?.lowercased() == "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: headers))), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(body)), promise: nil) }
        if closing {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        responder.metrics.recordRequest(route: append.route.metricLabel, method: .post, status: status,
                                        duration: ContinuousClock.now - append.started)
        // Parts that waited are handled next (dropped when closing).
        state = closing ? .closed : .idle
        drain()
    }

    /// A parse error inside an append's body (a bad chunk; `HTTP1Guard` passes those on to
    /// whoever reads the body): answered as the async path's `readBody` would, 400 with a JSON
    /// body, and the connection closed (its framing is lost). Other errors go on.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard case .collecting(let append) = state, let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        state = .answering(append)
        var apiError = APIError(parseError)
        apiError.headers[.connection] = "close"
        answer(append, error: apiError, close: true)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), answersOwed > 0 {
            answersOwed -= 1
            if answersOwed == 0, !queued.isEmpty {
                // After this write has gone on, not inside it.
                context.eventLoop.assumeIsolated().execute { self.drain() }
            }
        }
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        if !queued.isEmpty || isAnswering {
            readHeld = true
        } else {
            context.read()
        }
    }
}

/// The `Date` header's value, formatted once a second (RFC 9110 §5.6.7).
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))

    static func now() -> String {
        let second = Int(Date().timeIntervalSince1970)
        if let text = cache.withLock({ $0.second == second ? $0.text : nil }) { return text }
        var time = time_t(second)
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 40)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        let text = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        cache.withLock { $0 = (second, text) }
        return text
    }
}
