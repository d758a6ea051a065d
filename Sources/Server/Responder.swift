import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Replication
import Storage
import StreamModel

/// Routes every request of the three stream families, the bucket extension and the
/// operational endpoints (api.md). Routing is a pure parse of the path (`Route`), so the
/// families cannot drift apart.
struct RunnelResponder: HTTPResponder {
    typealias Context = RunnelRequestContext

    let store: Node
    let configuration: ServerConfiguration
    let logger: Logger
    let waiters: LiveWaiters
    let metrics: RunnelMetrics
    let quotas: RequestQuotas

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        let route = Route(path: request.uri.path)
        var response = await handle(request, route: route, connection: context.channel)
        if route.isCrossOrigin { addCrossOrigin(to: &response.headers, origin: request.headers[.origin]) }
        metrics.recordRequest(route: route.metricLabel, method: request.method,
                              status: response.status, duration: ContinuousClock.now - started)
        return response
    }

    private func handle(_ request: Request, route: Route, connection: any Channel) async -> Response {
        do {
            return try await self.route(request, route: route, connection: connection)
        } catch is CancellationError {
            // The client went away while a live read waited; nobody reads this answer.
            return response(.init(code: 499, reasonPhrase: "Client Closed Request"))
        } catch {
            return errorResponse(apiError(for: error))
        }
    }

    /// The answer to a thrown error: the client's mistakes and the state machine's refusals
    /// as they are, storage and unexpected errors logged and answered 500.
    func apiError(for error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as ModelError:
            return APIError(error)
        case let error as ReplicationError:
            if error.code == .storage { logger.error("storage error", metadata: ["error": "\(error)"]) }
            return APIError(error)
        case let error as StorageError:
            if error.code != .dropped { logger.error("storage error", metadata: ["error": "\(error)"]) }
            return APIError(error)
        case let error as HTTPParserError:
            // A malformed body framing (a bad chunk) found while reading the body: the
            // client's mistake, and the connection's framing is lost, so close it.
            var apiError = APIError(error)
            apiError.headers[.connection] = "close"
            return apiError
        default:
            logger.error("unexpected error", metadata: ["error": "\(error)"])
            return APIError(.internalServerError, "internal_error", "internal error")
        }
    }

    private func route(_ request: Request, route parsed: Route, connection: any Channel) async throws -> Response {
        try RequestValidation.check(request.head)
        var route = parsed
        // `/ds/{bucket}/streams` lists a bucket on GET; any other method addresses a stream
        // named "streams".
        if case .bucketStreams(let bucket) = route, request.method != .get, request.method != .options {
            route = .stream(.ds, StreamPath(bucket: bucket, name: "streams"))
        }
        // Only the methods a route answers reach a handler (unknown tokens included).
        if let allowed = route.allowedMethods, !allowed.contains(request.method) {
            var error = APIError(.methodNotAllowed, "method_not_allowed", "this route does not answer that method")
            error.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
            throw error
        }
        if request.method == .options {
            // A preflight is granted only where the stream API's CORS applies (not on admin,
            // operational or unknown routes).
            guard route.isCrossOrigin else { throw APIError(.notFound, "not_found", "no such route") }
            return options()
        }
        let principal = try await authorize(request, route, connection: connection)
        if let id = principal?.quotaID, let rate = principal?.rates.bytesPerSecond {
            // Bodies count against the credential's byte rate: the request's as it is read,
            // the response's up front when its length is known, else as it is written.
            let meter = ByteMeter(limiter: quotas.rates, id: id, rate: rate)
            var response = try await ByteMeter.$current.withValue(meter) {
                try await dispatch(request, route: route, connection: connection)
            }
            if let length = response.body.contentLength {
                meter.charge(length)
            } else {
                response.body = response.body.map { buffer in
                    meter.charge(buffer.readableBytes)
                    return buffer
                }
            }
            return response
        }
        return try await dispatch(request, route: route, connection: connection)
    }

    /// Answers an authorized request.
    private func dispatch(_ request: Request, route: Route, connection: any Channel) async throws -> Response {
        // Reads, and a fork's creation (which resolves its source here before proposing), see
        // everything committed before the request arrived, on whichever node it reached.
        // So do a snapshot's publication and retention, which check the offset against the data.
        var isResourceWrite = false
        if case .streamResource = route, request.method == .put { isResourceWrite = true }
        if request.method == .get || request.method == .head || isResourceWrite
            || (request.method == .put && request.headers[.streamForkedFrom] != nil) {
            try await readBarrier(request, route)
        }
        switch route {
        case .health:
            return text(.ok, "ok\n")
        case .ready:
            return readiness()
        case .admin(let admin):
            return try await self.admin(request, admin)
        case .metrics:
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return response(.ok, headers: headers, body: ByteBuffer(bytes: metrics.render(store: store, waiters: waiters)))
        case .invalid(let why):
            throw APIError.badRequest("invalid_path", why)
        case .notFound:
            throw APIError(.notFound, "not_found", "no such route")
        case .bucket(let name):
            return try await bucket(request, name)
        case .bucketStreams(let name):
            return try await listStreams(request, bucket: name)
        case .streamResource(let path, let resource):
            return try await streamResource(request, path: path, resource, connection: connection)
        case .stream(let family, let path):
            switch request.method {
            case .put: return try await create(request, family: family, path: path)
            case .post: return try await append(request, path: path)
            case .get: return try await read(request, path: path, connection: connection)
            case .head: return try head(path)
            case .delete: return try await delete(path)
            default:
                throw APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not supported on a stream")
            }
        }
    }

    // MARK: Response helpers

    func now() -> Int64 { store.configuration.clock() }

    func response(_ status: HTTPResponse.Status, headers: HTTPFields = HTTPFields(), body: ByteBuffer? = nil) -> Response {
        var fields = HTTPFields.standard
        fields.append(contentsOf: headers)
        if let body {
            fields[.contentLength] = String(body.readableBytes)
            return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: body))
        }
        return Response(status: status, headers: fields)
    }

    func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain"
        return response(status, headers: headers, body: ByteBuffer(string: text))
    }

    func json(_ status: HTTPResponse.Status, _ json: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return response(status, headers: headers, body: ByteBuffer(string: json))
    }

    func errorResponse(_ error: APIError) -> Response {
        response(error.status, headers: error.responseHeaders, body: ByteBuffer(string: error.jsonBody))
    }

    /// The stream API's CORS headers (protocol §2.2): `*` by default; with `--cors-origins`,
    /// the request's `Origin` when it is listed (and `Vary: Origin`), nothing otherwise.
    func addCrossOrigin(to headers: inout HTTPFields, origin: String?) {
        guard let allowed = configuration.corsOrigins else {
            headers.append(contentsOf: HTTPFields.crossOrigin)
            return
        }
        headers.append(HTTPField(name: .vary, value: "Origin"))
        guard let origin, allowed.contains(origin) else { return }
        var fields = HTTPFields.crossOrigin
        fields[.accessControlAllowOrigin] = origin
        headers.append(contentsOf: fields)
    }

    private func options() -> Response {
        var headers = HTTPFields()
        headers[.accessControlAllowMethods] = "GET, POST, PUT, DELETE, HEAD, OPTIONS"
        headers[.accessControlAllowHeaders] =
            "content-type, authorization, Stream-Seq, Stream-TTL, Stream-Expires-At, Stream-Closed, Producer-Id, Producer-Epoch, Producer-Seq, Stream-Forked-From, Stream-Fork-Offset, Stream-Fork-Sub-Offset, Stream-Snapshot-Match, If-Match, If-None-Match"
        headers[.accessControlMaxAge] = "86400"
        return response(.noContent, headers: headers)
    }

    /// Runs a blocking storage call (a RocksDB read) on NIO's thread pool, so it never
    /// occupies an event loop or one of the few cooperative threads.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }

    /// Proposes a command and unwraps a rejection into the thrown `ModelError`.
    func propose(_ command: Command) async throws -> CommandResult {
        let result = try await store.propose(command)
        if case .rejected(let error) = result { throw error }
        return result
    }

    /// Reads the request body, refusing with 413 as soon as it passes the limit (protocol
    /// §4), so an oversized body is never buffered whole.
    func readBody(_ request: Request) async throws -> [UInt8] {
        let limit = configuration.maxBodyBytes
        if case .value(let length) = request.headers.single(.contentLength), let declared = Int(length), declared > limit {
            throw tooLarge()
        }
        var bytes: [UInt8] = []
        for try await buffer in request.body {
            guard bytes.count + buffer.readableBytes <= limit else { throw tooLarge() }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        ByteMeter.current?.charge(bytes.count)
        return bytes
    }

    private func tooLarge() -> APIError {
        APIError(.contentTooLarge, "body_too_large", "the request body exceeds \(configuration.maxBodyBytes) bytes")
    }

    /// The absolute URL of `path` in `family`, for `Location` (protocol §3).
    func absoluteURL(_ request: Request, family: RouteFamily, path: StreamPath) -> String {
        let host = request.head.authority ?? "\(configuration.host):\(configuration.port)"
        let scheme = configuration.tlsCertificatePath == nil ? "http" : "https"
        return "\(scheme)://\(host)\(family.urlPath(of: path))"
    }
}
