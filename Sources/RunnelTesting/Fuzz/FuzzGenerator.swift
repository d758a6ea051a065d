/// The HTTP/1.1 request generator: case `index` of run `seed` is a pure function of the two,
/// so a failing case regenerates (and replays) exactly. It draws a target, a method, a query,
/// headers and a body, then frames them one way or another (see `FuzzFraming`).
public struct FuzzGenerator: Sendable {
    public var seed: UInt64
    /// `host:port` for a correct `Host` header.
    public var hostPort: String
    /// The node's body limit, to aim bodies just past it.
    public var maxBodyBytes: Int

    public init(seed: UInt64, hostPort: String, maxBodyBytes: Int) {
        self.seed = seed
        self.hostPort = hostPort
        self.maxBodyBytes = maxBodyBytes
    }

    static let standardMethods = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"]

    /// A method token that is not one of the protocol's: other standard ones, lower case,
    /// invalid token characters, very long, or a fresh random token (a metrics-label probe).
    static func oddMethod(_ random: inout FuzzRandom) -> String {
        switch random.below(6) {
        case 0: return random.pick(["PATCH", "TRACE", "CONNECT", "PROPFIND", "QUERY", "PRI"])
        case 1: return random.pick(["get", "Post", "G@T", "GET\u{0}", "\u{00C9}T"])
        case 2: return String(repeating: "X", count: random.pick([64, 300, 9000]))
        default: return FuzzPaths.probeMarker.uppercased() + random.token(random.int(in: 2...10))
        }
    }

    /// The method for a target kind, now and then replaced by an odd one.
    static func method(for kind: FuzzTarget.Kind, _ random: inout FuzzRandom) -> String {
        if random.chance(0.09) { return oddMethod(&random) }
        switch kind {
        case .stream:
            let roll = random.below(100)
            return roll < 30 ? "GET" : roll < 50 ? "PUT" : roll < 77 ? "POST" : roll < 85 ? "HEAD" : roll < 94 ? "DELETE" : "OPTIONS"
        case .bucket: return random.pick(["PUT", "GET", "GET", "DELETE", "HEAD", "OPTIONS", "POST"])
        case .listing, .ops: return random.chance(0.85) ? "GET" : random.pick(["HEAD", "POST", "OPTIONS", "DELETE"])
        case .snapshot: return random.pick(["PUT", "GET", "DELETE", "HEAD"])
        case .admin: return random.pick(["GET", "POST", "DELETE", "OPTIONS", "PUT"])
        case .garbage: return random.pick(standardMethods)
        }
    }

    /// One complete, ordinary request for pipelining; returns its bytes and method.
    func simpleRequest(_ random: inout FuzzRandom) -> ([UInt8], String) {
        let path = FuzzPaths.streamPath(&random, allowInvalid: false).path
        let method = random.pick(["GET", "HEAD", "POST", "PUT", "GET"])
        let body: [UInt8] = method == "POST" || method == "PUT" ? Array("p\(random.below(100))".utf8) : []
        var text = "\(method) \(path) HTTP/1.1\r\nHost: \(hostPort)\r\n"
        if !body.isEmpty { text += "Content-Type: text/plain\r\nContent-Length: \(body.count)\r\n" }
        return (Array((text + "\r\n").utf8) + body, method)
    }

    /// Case `index`.
    public func http1Case(_ index: Int) -> FuzzCase {
        var random = FuzzRandom(seed: seed, index: index)
        if random.chance(0.12) { return singleFaultCase(index, &random) }
        if random.chance(0.05) {
            let count = random.int(in: 2...4)
            var bytes: [UInt8] = []
            var methods: [String] = []
            for _ in 0..<count {
                let (request, method) = simpleRequest(&random)
                bytes += request
                methods.append(method)
            }
            return FuzzCase(seed: seed, index: index, transport: .http1, writes: [bytes], wait: .answer(responses: count),
                            methods: methods, tags: ["pipelined-\(count)"])
        }

        let target = FuzzPaths.target(&random)
        let method = Self.method(for: target.kind, &random)
        let standard = Self.standardMethods.contains(method)
        var tags = [target.family, method.count > 12 ? "long-method" : method]
        var rejection: FuzzCase.Rejection?
        if target.invalidIdentifier && ["GET", "HEAD", "PUT", "POST", "DELETE"].contains(method) {
            rejection = .init("malformed identifier in \(target.path)")
        }

        var targetBytes = target.bytes
        var live: String?
        if target.kind == .stream && method == "GET" {
            let read = FuzzQueries.read(&random)
            targetBytes += Array(read.query.utf8)
            live = read.live
            if target.plain, let r = read.rejection { rejection = rejection ?? r }
            if let live { tags.append("live-\(live)") }
        } else if target.kind == .listing {
            targetBytes += Array(FuzzQueries.listing(&random).utf8)
        } else if random.chance(0.05) {
            targetBytes += Array(random.pick(["?", "?%zz", "?a=%FF", "?offset=-1&live=sse"]).utf8)
        }

        var (fields, generalTags) = FuzzHeaders.generalHeaders(&random, hostPort: hostPort)
        tags += generalTags
        if target.kind == .admin, random.chance(0.5) { fields.append((Array("Origin".utf8), Array("https://example.com".utf8))) }
        if target.kind == .stream || target.kind == .snapshot || target.kind == .bucket || random.chance(0.05) {
            let (streamFields, headerRejection, headerTags) = FuzzHeaders.streamHeaders(&random, method: method, target: target.path)
            fields += streamFields
            tags += headerTags
            if target.kind == .stream, target.plain, standard { rejection = rejection ?? headerRejection }
        }
        if !standard { rejection = nil }

        var body: [UInt8] = []
        if (method == "PUT" || method == "POST") ? random.chance(0.75) : random.chance(0.04) {
            let (b, kind) = FuzzBodies.body(&random, maxBodyBytes: maxBodyBytes)
            body = b
            tags.append("body-\(kind)")
        }

        let framed = FuzzFraming.frame(.init(method: method, target: targetBytes, fields: fields, body: body), &random)
        tags += framed.tags
        if target.kind == .stream, target.plain, method == "POST", Self.bodyArrivesWhole(framed.tags) {
            rejection = rejection ?? Self.appendRejection(fields: fields, body: body, bodyKind: tags.first { $0.hasPrefix("body-") })
        }
        var wait = framed.wait
        if live != nil, case .answer = wait {
            // Long-poll answers when the node's short long-poll timeout ends; SSE answers its
            // head at once. Either must come within the deadline.
            wait = .answer(responses: 1)
        }
        return FuzzCase(seed: seed, index: index, transport: .http1, writes: framed.writes, wait: wait,
                        methods: [method], mustReject: rejection ?? framed.rejection, isAdmin: target.kind == .admin,
                        tolerated5xx: framed.tolerated5xx.union(standard && !target.unimplemented ? [] : [501]), tags: tags)
    }

    /// Framings that deliver the body as generated (others may cut or garble it).
    static func bodyArrivesWhole(_ framingTags: [String]) -> Bool {
        framingTags.contains { ["content-length", "chunked", "drip"].contains($0) }
    }

    /// JSON bodies that are not JSON text (RFC 8259), or the empty array: a 400 for a JSON
    /// stream, a 409 for any other (protocol §14), a 404 if none.
    static let invalidJSONBodies: Set<String> = ["body-json-invalid-strict", "body-json-bad-utf8", "body-json-empty-array"]

    /// The rejection an append must get for its body and headers alone (protocol §14):
    /// an empty body without `Stream-Closed: true`, a body without `Content-Type`, or a JSON
    /// `Content-Type` with a body that is not valid JSON or is `[]`.
    static func appendRejection(fields: [FuzzHeaders.Field], body: [UInt8], bodyKind: String?) -> FuzzCase.Rejection? {
        func values(_ name: String) -> [String] {
            fields.filter { String(decoding: $0.name, as: UTF8.self).lowercased() == name }.map { String(decoding: $0.value, as: UTF8.self) }
        }
        let closed = values("stream-closed"), types = values("content-type")
        if body.isEmpty, closed.isEmpty || (closed.count == 1 && ["false", "yes", "1", ""].contains(closed[0])) {
            return .init("empty append without Stream-Closed: true")
        }
        if !body.isEmpty, types.isEmpty { return .init("append body without Content-Type") }
        if types.count == 1, types[0].lowercased().hasPrefix("application/json"), let bodyKind, invalidJSONBodies.contains(bodyKind) {
            return .init("JSON append of \(bodyKind)")
        }
        return nil
    }
}
