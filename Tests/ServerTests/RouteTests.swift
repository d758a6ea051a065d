import HTTPTypes
@testable import Server
import StreamModel
import Testing

/// Routing on the raw path (issue 13, findings 2, 3, 9): admin and ops routes only on their
/// exact raw spelling, names must be ASCII on the wire and UTF-8 once decoded.
@Suite struct RouteTests {
    @Test(arguments: [
        ("/admin/v1/cluster", Route.admin(.cluster)),
        ("/admin%2fv1%2fcluster", .notFound),
        ("/admin%2Fv1%2Fcluster", .notFound),
        ("/admin/v1%2Fcluster", .notFound),
        ("/%61dmin/v1/cluster", .notFound),
        // Unknown paths under the admin prefix, even ones that would not decode, are no route.
        ("/admin/v1/", .notFound),
        ("/admin/v1/nosuch/%FF", .notFound),
        ("/admin", .notFound),
        ("/admin/v1/cluster/transfer-leader", .admin(.transferLeader)),
        ("/admin/v1/cluster/members", .admin(.addMember)),
        ("/admin/v1/cluster/members/3", .admin(.removeMember("3"))),
        ("/admin/v1/cluster/members/x", .admin(.removeMember("x"))),
        ("/admin/v1/cluster/members/", .notFound),
        ("/admin/v1/cluster/members/3/4", .notFound),
        ("/admin/v1/cluster/members%2F3", .notFound),
        ("/admin/v1/snapshot", .admin(.snapshot)),
        ("/healthz", .health),
        ("/health%7A", .notFound),
        ("/metrics", .metrics),
        ("/readyz", .ready),
        ("/v1/stream/a", .stream(.v1, StreamPath(bucket: "_default", name: "a"))),
        ("/v1/stream/%C3%A9", .stream(.v1, StreamPath(bucket: "_default", name: "é"))),
        ("/v1/stream/%FF", .invalid("the path is not valid percent-encoded UTF-8")),
        ("/v1/stream/a%ZZ", .invalid("the path is not valid percent-encoded UTF-8")),
        ("/v1/stream/\u{FFFD}", .invalid("the request target must be ASCII; percent-encode other bytes")),
        ("/streams/é", .invalid("the request target must be ASCII; percent-encode other bytes")),
        ("/ds/b/\u{FFFD}x", .invalid("the request target must be ASCII; percent-encode other bytes")),
    ] as [(String, Route)])
    func parse(path: String, expected: Route) {
        #expect(Route(path: path) == expected)
    }

    /// The three stream families (api.md §1), their bucket listings, and the edges of each.
    @Test(arguments: [
        // /ds/{bucket}/{stream}: a bucket, its listing, one stream; names have no `/`.
        ("/ds/b/s", Route.stream(.ds, StreamPath(bucket: "b", name: "s"))),
        ("/ds/_default/s", .stream(.ds, StreamPath(bucket: "_default", name: "s"))),
        ("/ds/b/a%2Fb", .invalid("invalid stream name")),
        ("/ds/b/a/b", .invalid("invalid stream name")),
        ("/ds/b/%C3%A9", .stream(.ds, StreamPath(bucket: "b", name: "é"))),
        ("/ds/b", .bucket("b")),
        ("/ds/b/streams", .bucketStreams("b")),
        ("/ds/b/", .invalid("invalid stream name")),
        ("/ds/", .invalid("invalid bucket name")),
        ("/ds/B/s", .invalid("invalid bucket name")),
        ("/ds/b/..", .invalid("invalid stream name")),
        ("/ds", .notFound),
        // /streams/{id}: the default bucket, no `/`.
        ("/streams/s", .stream(.legacy, StreamPath(bucket: "_default", name: "s"))),
        ("/streams/a%20b", .stream(.legacy, StreamPath(bucket: "_default", name: "a b"))),
        ("/streams/a%2Fb", .invalid("invalid stream name")),
        ("/streams/", .invalid("invalid stream name")),
        ("/streams", .notFound),
        // /v1/stream/{path}: no `/` is the default bucket; otherwise split at the first `/`.
        ("/v1/stream/s", .stream(.v1, StreamPath(bucket: "_default", name: "s"))),
        ("/v1/stream/b/s", .stream(.v1, StreamPath(bucket: "b", name: "s"))),
        ("/v1/stream/b/x/y/z", .stream(.v1, StreamPath(bucket: "b", name: "x/y/z"))),
        ("/v1/stream/_default/x/y", .stream(.v1, StreamPath(bucket: "_default", name: "x/y"))),
        ("/v1/stream/b%2Fs", .stream(.v1, StreamPath(bucket: "b", name: "s"))),
        ("/v1/stream/Upper/s", .invalid("invalid bucket name")),
        ("/v1/stream/b/", .invalid("invalid stream name")),
        ("/v1/stream/b/x//y", .invalid("invalid stream name")),
        ("/v1/stream/b/x/../y", .invalid("invalid stream name")),
        ("/v1/stream/", .invalid("invalid stream name")),
        ("/v1/stream", .notFound),
        ("/v1/streams/s", .notFound),
        ("/", .notFound),
    ] as [(String, Route)])
    func parseStreamFamilies(path: String, expected: Route) {
        #expect(Route(path: path) == expected)
    }

    /// `Location` answers in the family the request used; `/v1/stream/` names the bucket
    /// whenever the short form would split differently.
    @Test(arguments: [
        (RouteFamily.ds, StreamPath(bucket: "b", name: "s"), "/ds/b/s"),
        (.ds, StreamPath(bucket: "_default", name: "a b"), "/ds/_default/a%20b"),
        (.ds, StreamPath(bucket: "b", name: "é"), "/ds/b/%C3%A9"),
        (.legacy, StreamPath(bucket: "_default", name: "s"), "/streams/s"),
        (.legacy, StreamPath(bucket: "_default", name: "a?b"), "/streams/a%3Fb"),
        (.v1, StreamPath(bucket: "_default", name: "s"), "/v1/stream/s"),
        (.v1, StreamPath(bucket: "_default", name: "x/y"), "/v1/stream/_default/x/y"),
        (.v1, StreamPath(bucket: "b", name: "s"), "/v1/stream/b/s"),
        (.v1, StreamPath(bucket: "b", name: "x/y z"), "/v1/stream/b/x/y%20z"),
    ] as [(RouteFamily, StreamPath, String)])
    func locationPath(family: RouteFamily, path: StreamPath, expected: String) {
        let rendered = family.urlPath(of: path)
        #expect(rendered == expected)
        // What a Location names, a request to it addresses.
        #expect(Route(path: rendered) == .stream(family, path))
    }

    /// The inspection routes (issue 16): the bucket segment raw, the stream the rest of the
    /// path percent-decoded, `/` allowed as in `/v1/stream/` names.
    @Test(arguments: [
        ("/admin/v1/buckets", Route.admin(.buckets)),
        ("/admin/v1/buckets/", .notFound),
        ("/admin/v1/streams/b/s", .admin(.inspectStream(StreamPath(bucket: "b", name: "s")))),
        ("/admin/v1/streams/_default/a%2Fb", .admin(.inspectStream(StreamPath(bucket: "_default", name: "a/b")))),
        ("/admin/v1/streams/_default/a%2fb", .admin(.inspectStream(StreamPath(bucket: "_default", name: "a/b")))),
        ("/admin/v1/streams/b/x/y", .admin(.inspectStream(StreamPath(bucket: "b", name: "x/y")))),
        ("/admin/v1/streams/b/%C3%A9%20z", .admin(.inspectStream(StreamPath(bucket: "b", name: "é z")))),
        ("/admin/v1/streams/B/s", .admin(.malformed(code: "invalid_bucket", reason: "a bucket name is 1-64 bytes of a-z, 0-9, _ and -"))),
        ("/admin/v1/streams//s", .admin(.malformed(code: "invalid_bucket", reason: "a bucket name is 1-64 bytes of a-z, 0-9, _ and -"))),
        // A bucket name needs no escape, so an escaped one is not a bucket name.
        ("/admin/v1/streams/%62/s", .admin(.malformed(code: "invalid_bucket", reason: "a bucket name is 1-64 bytes of a-z, 0-9, _ and -"))),
        ("/admin/v1/streams/b%2Fs", .notFound),
        ("/admin/v1/streams/b", .notFound),
        ("/admin/v1/streams/", .notFound),
        ("/admin/v1/streams", .notFound),
        ("/admin/v1/streams/b/", .admin(.malformed(code: "invalid_stream_name", reason: "invalid stream name"))),
        ("/admin/v1/streams/b/x%2F%2Fy", .admin(.malformed(code: "invalid_stream_name", reason: "invalid stream name"))),
        ("/admin/v1/streams/b/x/..", .admin(.malformed(code: "invalid_stream_name", reason: "invalid stream name"))),
        ("/admin/v1/streams/b/%2E%2E", .admin(.malformed(code: "invalid_stream_name", reason: "invalid stream name"))),
        ("/admin/v1/streams/b/%00", .admin(.malformed(code: "invalid_stream_name", reason: "invalid stream name"))),
        ("/admin/v1/streams/b/%FF", .admin(.malformed(code: "invalid_stream_name", reason: "the stream name is not ASCII with valid percent-encoded UTF-8"))),
        ("/admin/v1/streams/b/a%ZZ", .admin(.malformed(code: "invalid_stream_name", reason: "the stream name is not ASCII with valid percent-encoded UTF-8"))),
        ("/admin/v1/streams/b/\u{FFFD}", .admin(.malformed(code: "invalid_stream_name", reason: "the stream name is not ASCII with valid percent-encoded UTF-8"))),
        ("/admin/v1/streams/b/" + String(repeating: "x", count: 256), .admin(.malformed(code: "invalid_stream_name", reason: "invalid stream name"))),
        // Only the raw prefix routes: an escaped `/` before the bucket is no route.
        ("/admin/v1/streams%2Fb/s", .notFound),
        // A bucket's limits (docs/access-control.md): the raw bucket segment, checked by the handler.
        ("/admin/v1/buckets/b/limits", .admin(.bucketLimits("b"))),
        ("/admin/v1/buckets/_default/limits", .admin(.bucketLimits("_default"))),
        ("/admin/v1/buckets/B%41D/limits", .admin(.bucketLimits("B%41D"))),
        ("/admin/v1/buckets//limits", .notFound),
        ("/admin/v1/buckets/b/c/limits", .notFound),
        ("/admin/v1/buckets/b/limits/", .notFound),
        ("/admin/v1/buckets/b/limit", .notFound),
        ("/admin/v1/buckets/b", .notFound),
        ("/admin/v1/buckets/b%2Flimits", .notFound),
        ("/admin/v1/buckets%2Fb/limits", .notFound),
        ("/admin/v1%2Fstreams/b/s", .notFound),
    ] as [(String, Route)])
    func parseInspection(path: String, expected: Route) {
        #expect(Route(path: path) == expected)
    }

    @Test func adminAndOpsAnswerOneMethodAndNoCORS() {
        #expect(Route.admin(.buckets).allowedMethods == [.get])
        #expect(Route.admin(.inspectStream(StreamPath(bucket: "b", name: "s"))).allowedMethods == [.get])
        #expect(Route.admin(.malformed(code: "invalid_bucket", reason: "")).allowedMethods == [.get])
        #expect(!Route.admin(.inspectStream(StreamPath(bucket: "b", name: "s"))).isCrossOrigin)
        #expect(!Route.admin(.malformed(code: "invalid_bucket", reason: "")).isCrossOrigin)
        #expect(Route.admin(.cluster).allowedMethods == [.get])
        #expect(Route.admin(.transferLeader).allowedMethods == [.post])
        #expect(Route.admin(.removeMember("3")).allowedMethods == [.delete])
        #expect(Route.admin(.addMember).allowedMethods == [.post])
        #expect(Route.admin(.bucketLimits("b")).allowedMethods == [.put])
        #expect(!Route.admin(.bucketLimits("b")).isCrossOrigin)
        #expect(Route.metrics.allowedMethods == [.get, .head])
        #expect(!Route.admin(.cluster).isCrossOrigin)
        #expect(!Route.metrics.isCrossOrigin)
        #expect(!Route.health.isCrossOrigin)
        #expect(Route.stream(.v1, StreamPath(bucket: "_default", name: "a")).isCrossOrigin)
        #expect(Route.stream(.v1, StreamPath(bucket: "_default", name: "a")).allowedMethods?.contains(.options) == true)
        #expect(Route.admin(.cluster).allowedMethods?.contains(.options) == false)
        #expect(Route.stream(.ds, StreamPath(bucket: "b", name: "s")).allowedMethods?.contains(HTTPRequest.Method("PATCH")!) == false)
    }

    @Test func metricLabelsAreBounded() {
        #expect(RunnelMetrics.methodLabel(.get) == "GET")
        #expect(RunnelMetrics.methodLabel(HTTPRequest.Method("FOO")!) == "other")
        #expect(RunnelMetrics.methodLabel(HTTPRequest.Method("X-\(UInt64.random(in: 0...UInt64.max))")!) == "other")
        #expect(RunnelMetrics.statusLabel(.ok) == "200")
        #expect(RunnelMetrics.statusLabel(.init(code: 418)) == "4xx")
        #expect(RunnelMetrics.statusLabel(.init(code: 599)) == "5xx")
    }
}

/// Request-head checks run before routing (issue 13, findings 4 and 10).
@Suite struct RequestValidationTests {
    static func request(_ fields: [(String, String)], authority: String? = "h") -> HTTPRequest {
        var headers = HTTPFields()
        for (name, value) in fields { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return HTTPRequest(method: .post, scheme: "http", authority: authority, path: "/v1/stream/a", headerFields: headers)
    }

    /// "status code" of the refusal, or "accepted".
    static func outcome(_ fields: [(String, String)], authority: String? = "h") -> String {
        do {
            try RequestValidation.check(request(fields, authority: authority))
            return "accepted"
        } catch {
            return "\(error.status.code) \(error.code)"
        }
    }

    @Test func table() {
        #expect(Self.outcome([]) == "accepted")
        #expect(Self.outcome([("Expect", "100-continue")]) == "accepted")
        #expect(Self.outcome([("Expect", "999-foo")]) == "417 unsupported_expectation")
        #expect(Self.outcome([("Transfer-Encoding", "chunked")]) == "accepted")
        #expect(Self.outcome([("Transfer-Encoding", "gzip, chunked")]) == "501 unsupported_transfer_coding")
        #expect(Self.outcome([("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]) == "501 unsupported_transfer_coding")
        #expect(Self.outcome([], authority: nil) == "400 missing_host")
        #expect(Self.outcome([("Host", "other")]) == "400 repeated_header")
    }

    @Test func headerText() {
        #expect(HeaderText.isClean("application/json"))
        #expect(HeaderText.isClean("producer-é"))
        #expect(!HeaderText.isClean("bad\u{FFFD}"))
        #expect(!HeaderText.isClean("a\u{01}b"))
    }

    @Test func ifNoneMatch() {
        #expect(RunnelResponder.ifNoneMatch(["*"], matches: "\"x\""))
        #expect(RunnelResponder.ifNoneMatch(["\"a\", \"x\""], matches: "\"x\""))
        #expect(!RunnelResponder.ifNoneMatch(["\"a\""], matches: "\"x\""))
        #expect(!RunnelResponder.ifNoneMatch([], matches: "\"x\""))
    }
}
