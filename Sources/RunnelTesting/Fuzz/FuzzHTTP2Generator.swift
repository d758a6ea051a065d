/// The HTTP/2 case generator: after the opening (preface, SETTINGS), well-formed requests on
/// every route family, or one hostile mutation of the frame layer (RFC 9113 §4–6) or of HPACK
/// (RFC 7541): lying lengths, unknown types, even and zero stream ids, bad pseudo-headers,
/// RST_STREAM, WINDOW_UPDATE and PING edge cases, CONTINUATION floods bounded in size.
public struct FuzzHTTP2Generator: Sendable {
    public var seed: UInt64
    public var authority: String
    public var maxBodyBytes: Int

    public init(seed: UInt64, authority: String, maxBodyBytes: Int) {
        self.seed = seed
        self.authority = authority
        self.maxBodyBytes = maxBodyBytes
    }

    typealias Field = ([UInt8], [UInt8])

    /// A request's header fields and body: a target and method as in HTTP/1, headers in
    /// lower case as HTTP/2 demands.
    func request(_ random: inout FuzzRandom, method forced: String? = nil) -> (fields: [Field], body: [UInt8], tags: [String]) {
        let target = FuzzPaths.target(&random)
        let method = forced ?? FuzzGenerator.method(for: target.kind, &random)
        var path = target.bytes
        if target.kind == .stream && method == "GET" { path += Array(FuzzQueries.read(&random).query.utf8) }
        if target.kind == .listing { path += Array(FuzzQueries.listing(&random).utf8) }
        if path.isEmpty { path = Array("/".utf8) }
        var fields: [Field] = [(Array(":method".utf8), Array(method.utf8)), (Array(":scheme".utf8), Array("https".utf8)),
                               (Array(":path".utf8), path), (Array(":authority".utf8), Array(authority.utf8))]
        let (streamFields, _, tags) = FuzzHeaders.streamHeaders(&random, method: method, target: target.path)
        fields += streamFields.map { (Array(String(decoding: $0.name, as: UTF8.self).lowercased().utf8), $0.value) }
        var body: [UInt8] = []
        if method == "PUT" || method == "POST", random.chance(0.7) {
            body = FuzzBodies.body(&random, maxBodyBytes: maxBodyBytes).0
        }
        return (fields, body, [target.family, method.count > 12 ? "long-method" : method] + tags)
    }

    /// HEADERS (and DATA, in frames of at most 16 KiB) for one request on `stream`.
    static func frames(_ fields: [Field], _ body: [UInt8], stream: UInt32) -> [UInt8] {
        var out = HTTP2Wire.frame(.headers, flags: HTTP2Wire.endHeaders | (body.isEmpty ? HTTP2Wire.endStream : 0),
                                  stream: stream, HTTP2Wire.headerBlock(fields))
        var rest = body[...]
        while !rest.isEmpty {
            let piece = rest.prefix(16_384)
            rest = rest.dropFirst(piece.count)
            out += HTTP2Wire.frame(.data, flags: rest.isEmpty ? HTTP2Wire.endStream : 0, stream: stream, Array(piece))
        }
        return out
    }

    /// Case `index` of the HTTP/2 run.
    public func http2Case(_ index: Int) -> FuzzCase {
        var random = FuzzRandom(seed: seed ^ 0x0000_0002_0000_0002, index: index)
        var bytes = HTTP2Wire.opening
        if random.chance(0.45) {
            let count = random.int(in: 1...3)
            var streams: [UInt32] = []
            var tags: [String] = ["h2-requests-\(count)"]
            for i in 0..<count {
                let stream = UInt32(2 * i + 1)
                let (fields, body, requestTags) = request(&random)
                bytes += Self.frames(fields, body, stream: stream)
                streams.append(stream)
                tags += requestTags
            }
            return FuzzCase(seed: seed, index: index, transport: .http2, writes: [bytes], wait: .answer(responses: count),
                            streams: streams, tolerated5xx: [501], tags: tags)
        }
        let (mutation, answered) = mutate(&bytes, &random)
        return FuzzCase(seed: seed, index: index, transport: .http2, writes: [bytes],
                        wait: answered ? .answer(responses: 1) : .linger(.milliseconds(300)),
                        streams: answered ? [1] : [], tolerated5xx: [501], tags: ["h2-" + mutation])
    }
}
