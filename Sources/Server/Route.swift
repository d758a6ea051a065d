import HTTPTypes
import StreamModel

/// The route family a stream request came in on (api.md §1). Responses that name a stream
/// (`Location`) answer in the same family.
public enum RouteFamily: Sendable, Hashable {
    /// `/ds/{bucket}/{stream}`
    case ds
    /// `/streams/{id}` → (`_default`, id)
    case legacy
    /// `/v1/stream/{path}` → split at the first `/`
    case v1

    /// The URL path of `path` in this family.
    func urlPath(of path: StreamPath) -> String {
        switch self {
        case .ds: "/ds/\(Route.encode(path.bucket))/\(Route.encode(path.name))"
        case .legacy: "/streams/\(Route.encode(path.name))"
        case .v1:
            path.bucket == Identifiers.defaultBucket && !path.name.contains("/")
                ? "/v1/stream/\(Route.encode(path.name))"
                : "/v1/stream/\(Route.encode(path.bucket))/\(Route.encodeKeepingSlashes(path.name))"
        }
    }
}

/// The operator endpoints of api.md §3.
public enum AdminRoute: Sendable, Hashable {
    /// `GET /admin/v1/cluster`
    case cluster
    /// `POST /admin/v1/cluster/transfer-leader`
    case transferLeader
    /// `POST /admin/v1/cluster/members`: add a member (a learner, promoted once caught up).
    case addMember
    /// `DELETE /admin/v1/cluster/members/{id}`, with the raw `{id}` segment (validated by the
    /// handler, so a malformed id is a 400 rather than a 404).
    case removeMember(String)
    /// `POST /admin/v1/snapshot` (not available in this version).
    case snapshot
    /// `GET /admin/v1/streams/{bucket}/{stream}`: one stream as this node's applied state
    /// holds it (docs/operations.md "Inspecting a stream").
    case inspectStream(StreamPath)
    /// `GET /admin/v1/buckets`: every bucket with the totals of its streams.
    case buckets
    /// An inspection path whose bucket or stream name is malformed: a 400 with `code`
    /// (`invalid_bucket`, `invalid_stream_name`) and `reason`.
    case malformed(code: String, reason: String)
    /// `GET /admin/v1/keys` lists API keys, `POST` creates one (docs/access-control.md).
    case keys
    /// `DELETE /admin/v1/keys/{id}`, with the raw `{id}` segment.
    case revokeKey(String)
    /// `PUT /admin/v1/buckets/{bucket}/limits`, with the raw `{bucket}` segment (validated by
    /// the handler, so a malformed name is a 400 rather than a 404).
    case bucketLimits(String)

    /// The methods each admin route answers (api.md §3); others get 405 with `Allow`.
    var methods: [HTTPRequest.Method] {
        switch self {
        case .cluster, .inspectStream, .buckets, .malformed: [.get]
        case .transferLeader, .addMember, .snapshot: [.post]
        case .removeMember, .revokeKey: [.delete]
        case .bucketLimits: [.put]
        case .keys: [.get, .post]
        }
    }
}

/// A sub-resource of a stream, on `/ds/{bucket}/{stream}/…` only (api.md §2,
/// docs/stream-snapshots.md): `/v1/stream/` names may contain `/`, so any suffix there is a
/// stream name, and `/streams/{id}` is unchanged.
public enum StreamResource: Sendable, Hashable {
    /// `…/snapshot`: a redirect to the latest snapshot.
    case latestSnapshot
    /// `…/snapshot/{offset}`, with the raw offset segment (validated by the handler, so a
    /// malformed one is a 400 rather than a 404).
    case snapshot(String)
    /// `…/bootstrap`
    case bootstrap
    /// `…/retention/{offset|auto|manual}`
    case retention(String)

    /// The methods each sub-resource answers.
    var methods: [HTTPRequest.Method] {
        switch self {
        case .latestSnapshot, .bootstrap: [.get, .options]
        case .snapshot: [.get, .put, .delete, .options]
        case .retention: [.put, .options]
        }
    }
}

extension AdminRoute {
    /// Parses the raw `{bucket}/{stream}` after `/admin/v1/streams/`; `nil` when there is no
    /// `/` after the bucket (no route). The bucket segment is matched raw, as a bucket name
    /// has no byte that needs escaping; the stream is the rest of the path percent-decoded,
    /// `/` included (a name from `/v1/stream/` may hold one, spelled `/` or `%2F`).
    init?(inspecting raw: String) {
        guard let slash = raw.firstIndex(of: "/") else { return nil }
        let bucket = String(raw[..<slash])
        let encoded = String(raw[raw.index(after: slash)...])
        guard Identifiers.isValidBucket(bucket) else {
            self = .malformed(code: "invalid_bucket", reason: "a bucket name is 1-64 bytes of a-z, 0-9, _ and -")
            return
        }
        guard !encoded.utf8.contains(where: { $0 >= 0x80 || $0 < 0x20 || $0 == 0x7F }),
              let name = Route.percentDecode(encoded)
        else {
            self = .malformed(code: "invalid_stream_name", reason: "the stream name is not ASCII with valid percent-encoded UTF-8")
            return
        }
        guard Identifiers.isValidStreamName(name, allowSlash: true) else {
            self = .malformed(code: "invalid_stream_name", reason: "invalid stream name")
            return
        }
        self = .inspectStream(StreamPath(bucket: bucket, name: name))
    }
}

/// What a request path addresses.
public enum Route: Sendable, Hashable {
    case stream(RouteFamily, StreamPath)
    case streamResource(StreamPath, StreamResource)
    case bucket(String)
    case bucketStreams(String)
    case health
    case ready
    case metrics
    /// `/admin/v1/...` (api.md §3).
    case admin(AdminRoute)
    /// A path in a stream family whose identifier is malformed (a 400 with the reason).
    case invalid(String)
    case notFound

    /// Parses a raw (percent-encoded) request path.
    ///
    /// The operational and admin routes (api.md §3) are matched on the raw bytes, before any
    /// percent-decoding, so `/admin%2Fv1%2Fcluster` can never reach them; only the stream
    /// families decode their identifiers. A request target is ASCII (RFC 9112 §3.2, RFC 3986):
    /// raw non-ASCII bytes (including the U+FFFD an HTTP parser substitutes for invalid UTF-8)
    /// are an `invalid` path, as are escapes that do not decode to UTF-8.
    public init(path raw: String) {
        switch raw {
        case "/healthz": self = .health; return
        case "/readyz": self = .ready; return
        case "/metrics": self = .metrics; return
        case "/admin/v1/cluster": self = .admin(.cluster); return
        case "/admin/v1/cluster/transfer-leader": self = .admin(.transferLeader); return
        case "/admin/v1/cluster/members": self = .admin(.addMember); return
        case "/admin/v1/snapshot": self = .admin(.snapshot); return
        case "/admin/v1/buckets": self = .admin(.buckets); return
        case "/admin/v1/keys": self = .admin(.keys); return
        default: break
        }
        if let id = raw.dropPrefix("/admin/v1/keys/"), !id.isEmpty, !id.contains("/") {
            self = .admin(.revokeKey(id)); return
        }
        if let rest = raw.dropPrefix("/admin/v1/buckets/"), let bucket = rest.dropSuffix("/limits"),
           !bucket.isEmpty, !bucket.contains("/") {
            self = .admin(.bucketLimits(bucket)); return
        }
        if let id = raw.dropPrefix("/admin/v1/cluster/members/"), !id.isEmpty, !id.contains("/") {
            self = .admin(.removeMember(id)); return
        }
        if let rest = raw.dropPrefix("/admin/v1/streams/"), let inspection = AdminRoute(inspecting: rest) {
            self = .admin(inspection); return
        }
        // Anything else under the admin prefix, however spelled, is no route at all: not an
        // `invalid` stream path, which would answer with the stream API's CORS headers.
        if raw == "/admin" || raw.hasPrefix("/admin/") || raw.lowercased().hasPrefix("/admin%") {
            self = .notFound; return
        }
        guard !raw.utf8.contains(where: { $0 >= 0x80 || $0 < 0x20 || $0 == 0x7F }) else {
            self = .invalid("the request target must be ASCII; percent-encode other bytes")
            return
        }
        if let rawRest = raw.dropPrefix("/ds/") {
            // Split before decoding, so an escaped `%2F` stays inside its segment.
            var segments: [String] = []
            for piece in rawRest.split(separator: "/", omittingEmptySubsequences: false) {
                guard let segment = Route.percentDecode(String(piece)) else {
                    self = .invalid("the path is not valid percent-encoded UTF-8"); return
                }
                segments.append(segment)
            }
            let bucket = segments[0]
            guard Identifiers.isValidBucket(bucket) else { self = .invalid("invalid bucket name"); return }
            if segments.count == 1 { self = .bucket(bucket); return }
            let name = segments[1]
            if segments.count == 2 && name == "streams" { self = .bucketStreams(bucket); return }
            guard Identifiers.isValidStreamName(name, allowSlash: false) else {
                self = .invalid("invalid stream name"); return
            }
            let stream = StreamPath(bucket: bucket, name: name)
            switch segments.count {
            case 2: self = .stream(.ds, stream)
            case 3 where segments[2] == "snapshot": self = .streamResource(stream, .latestSnapshot)
            case 3 where segments[2] == "bootstrap": self = .streamResource(stream, .bootstrap)
            case 4 where segments[2] == "snapshot": self = .streamResource(stream, .snapshot(segments[3]))
            case 4 where segments[2] == "retention": self = .streamResource(stream, .retention(segments[3]))
            default: self = .invalid("invalid stream name")  // a `/ds/` stream name has no `/`
            }
            return
        }
        guard let path = Route.percentDecode(raw) else {
            self = .invalid("the path is not valid percent-encoded UTF-8")
            return
        }
        if let name = path.dropPrefix("/streams/") {
            guard Identifiers.isValidStreamName(name, allowSlash: false) else {
                self = .invalid("invalid stream name"); return
            }
            self = .stream(.legacy, StreamPath(bucket: Identifiers.defaultBucket, name: name))
        } else if let rest = path.dropPrefix("/v1/stream/") {
            if let slash = rest.firstIndex(of: "/") {
                let bucket = String(rest[..<slash])
                let name = String(rest[rest.index(after: slash)...])
                guard Identifiers.isValidBucket(bucket) else { self = .invalid("invalid bucket name"); return }
                guard Identifiers.isValidStreamName(name, allowSlash: true) else {
                    self = .invalid("invalid stream name"); return
                }
                self = .stream(.v1, StreamPath(bucket: bucket, name: name))
            } else {
                guard Identifiers.isValidStreamName(rest, allowSlash: false) else {
                    self = .invalid("invalid stream name"); return
                }
                self = .stream(.v1, StreamPath(bucket: Identifiers.defaultBucket, name: rest))
            }
        } else {
            self = .notFound
        }
    }

    /// Decodes `%XX` escapes; `nil` for a bad escape or bytes that are not UTF-8.
    static func percentDecode(_ s: String) -> String? {
        guard s.utf8.contains(UInt8(ascii: "%")) else { return s }
        var bytes: [UInt8] = []
        var iterator = s.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let h = iterator.next().flatMap(hexValue), let l = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(h << 4 | l)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters.
    static func encode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            if isUnreserved(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    static func encodeKeepingSlashes(_ s: String) -> String {
        s.split(separator: "/", omittingEmptySubsequences: false).map { encode(String($0)) }.joined(separator: "/")
    }

    private static func isUnreserved(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: "~")
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }

    func dropSuffix(_ suffix: String) -> String? {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : nil
    }

    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension Route {
    /// The stream API's methods (protocol §3–§8).
    static let streamMethods: [HTTPRequest.Method] = [.get, .head, .post, .put, .delete, .options]

    /// The methods this route answers; any other method gets 405 with `Allow` before a
    /// handler runs. Nil for paths that address nothing (their 400/404 wins).
    var allowedMethods: [HTTPRequest.Method]? {
        switch self {
        // A non-GET `/ds/{bucket}/streams` addresses a stream named "streams".
        case .stream, .bucketStreams: Route.streamMethods
        case .streamResource(_, let resource): resource.methods
        case .bucket: [.get, .put, .delete, .options]
        case .health, .ready, .metrics: [.get, .head]
        case .admin(let admin): admin.methods
        case .invalid, .notFound: nil
        }
    }

    /// Whether responses carry the protocol's CORS headers (protocol §2.2): the stream API
    /// does; admin and operational routes never do (api.md §3), so a browser page on another
    /// origin can neither read them nor be granted a preflight.
    var isCrossOrigin: Bool {
        switch self {
        case .stream, .streamResource, .bucket, .bucketStreams, .invalid: true
        case .health, .ready, .metrics, .admin, .notFound: false
        }
    }
}
