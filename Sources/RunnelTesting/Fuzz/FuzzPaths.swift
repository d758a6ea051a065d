/// Request targets for the fuzzer: the three stream route families, bucket and listing routes,
/// the extension routes, the operator routes and plain garbage, with names drawn from pools
/// of valid, invalid and tricky spellings (api.md §1–3).
///
/// Every fuzz name stays clear of the canary prefix (`FuzzCanaries.marker`), so the fuzzer
/// can never touch the streams the oracle checks afterwards.
public struct FuzzTarget: Sendable {
    /// What the target addresses, which decides the methods, headers and queries that fit.
    public enum Kind: String, Sendable {
        case stream, bucket, listing, snapshot, ops, admin, garbage
    }

    /// The raw request-target bytes (percent-encoded or deliberately not).
    public var bytes: [UInt8]
    public var kind: Kind
    /// The route family tag (`ds`, `legacy`, `v1`, …) for reports.
    public var family: String
    /// The stream or bucket identifier is malformed per api.md §1: a request on it must be 400.
    public var invalidIdentifier: Bool
    /// The path is an ordinary valid stream path (no odd spellings that decode in surprising
    /// ways), so query and header rules of the protocol apply to it as written.
    public var plain: Bool = false
    /// An operator route api.md lists but this version answers 501 (Not Implemented) for,
    /// which is that status's meaning, not a server fault.
    public var unimplemented: Bool = false
    /// The path (for `Stream-Forked-From` and friends), without a query.
    public var path: String
}

/// Name pools and the choice of a target.
public enum FuzzPaths {
    /// Stream names that are valid identifiers (percent-encoded), NFC and NFD spellings of
    /// "café" among them: two names by bytes (api.md §1).
    static let validNames = [
        "f0", "f1", "f2", "f3", "j0", "j1", "caf%C3%A9", "cafe%CC%81", "a%20b", "%F0%9F%98%80",
        "n.x", "-_~", "a..b", "snapshot", String(repeating: "l", count: 255),
    ]
    /// Stream names that api.md §1 makes a 400: invalid UTF-8, NUL, `..`, too long.
    static let invalidNames = [
        "%FF", "%C3", "%C0%AF", "%ED%A0%80", "%00", "a%00b", "..", "%2E%2E",
        String(repeating: "l", count: 256), String(repeating: "m", count: 5000),
    ]
    /// Spellings whose meaning depends on decoding details, never asserted on.
    static let oddNames = ["x%2fy", "x%2Fy", "%zz", "%", "a%2", "x/../y", "%252e%252e", "a%3Fb", "a;b", "a?b=c"]

    static let validBuckets = ["_default", "fz", "fz-b", "nobkt", "z9"]
    static let invalidBuckets = ["UP", "b.c", String(repeating: "b", count: 65), "%FF", "b%00"]

    /// Offsets in the protocol's form and outside it.
    static let offsets = [
        "-1", "now", "0000000000000000_0000000000000000", "0000000000000000_0000000000000003",
        "0000000000000000_0000000000000007", "0000000000000000_9999999999999999",
        "9999999999999999_9999999999999999", "0000000000000001_0000000000000000", "abc", "", "-2",
        "99999999999999999999999_1", "0000000000000000_", "_", "%00", "0000000000000000_-000000000000001",
        "18446744073709551616",
    ]

    /// A name, and whether it is a malformed identifier; `invalid` forces a malformed one.
    /// A name and its class: valid, malformed (a 400), or odd (never asserted on).
    static func streamName(_ random: inout FuzzRandom, allowInvalid: Bool = true) -> (String, NameClass) {
        let roll = random.below(100)
        if roll < 40 { return (random.pick(FuzzFixtures.byteStreams + FuzzFixtures.jsonStreams), .valid) }
        if roll < 78 || !allowInvalid { return (random.pick(validNames), .valid) }
        if roll < 90 { return (random.pick(invalidNames), .invalid) }
        if roll < 97 { return (random.pick(oddNames), .odd) }
        // Random characters with a marker that the metrics oracle recognises if it ever turns
        // up as a label value.
        return (probeMarker + random.token(random.int(in: 1...12), from: "abcdefghijklmnopqrstuvwxyz0123456789"), .valid)
    }

    /// What a generated name is.
    enum NameClass { case valid, invalid, odd }

    /// Prefix of generated names and method tokens that exist only to see whether client
    /// input becomes a metrics label (a label must come from a bounded set).
    public static let probeMarker = "fzr"

    static func bucket(_ random: inout FuzzRandom) -> (String, Bool) {
        random.chance(0.9) ? (random.pick(validBuckets), false) : (random.pick(invalidBuckets), true)
    }

    /// A stream path in one of the three families.
    public static func streamPath(_ random: inout FuzzRandom, allowInvalid: Bool = true) -> (path: String, family: String, invalid: Bool, plain: Bool) {
        let (name, nameClass) = streamName(&random, allowInvalid: allowInvalid)
        let badName = nameClass == .invalid
        let plain = nameClass == .valid
        switch random.below(3) {
        case 0:
            let (bucket, badBucket) = allowInvalid ? bucket(&random) : (random.pick(["_default", "fz"]), false)
            return ("/ds/\(bucket)/\(name)", "ds", badName || badBucket, plain && !badBucket)
        case 1:
            return ("/streams/\(name)", "legacy", badName, plain)
        default:
            if random.chance(0.5) { return ("/v1/stream/\(name)", "v1", badName, plain) }
            let bucket = random.pick(["fz", "v1b", "_default"])
            let nested = random.chance(0.3) ? name + "/" + random.pick(validNames) : name
            return ("/v1/stream/\(bucket)/\(nested)", "v1", badName, plain && nested.utf8.count <= 255)
        }
    }

    /// Any target, weighted towards stream routes.
    public static func target(_ random: inout FuzzRandom) -> FuzzTarget {
        let roll = random.below(100)
        if roll < 62 {
            let (path, family, invalid, plain) = streamPath(&random)
            return FuzzTarget(bytes: Array(path.utf8), kind: .stream, family: family, invalidIdentifier: invalid, plain: plain, path: path)
        }
        if roll < 70 {
            let (bucket, invalid) = bucket(&random)
            let path = "/ds/\(bucket)"
            return FuzzTarget(bytes: Array(path.utf8), kind: .bucket, family: "bucket", invalidIdentifier: invalid, path: path)
        }
        if roll < 77 {
            let (bucket, invalid) = bucket(&random)
            let path = "/ds/\(bucket)/streams"
            return FuzzTarget(bytes: Array(path.utf8), kind: .listing, family: "listing", invalidIdentifier: invalid, path: path)
        }
        if roll < 81 {
            let bucket = random.pick(["_default", "fz"])
            let name = random.pick(validNames)
            let tail = random.pick(["snapshot", "snapshot/" + random.pick(offsets), "bootstrap", "retention/" + random.pick(offsets)])
            let path = "/ds/\(bucket)/\(name)/\(tail)"
            return FuzzTarget(bytes: Array(path.utf8), kind: .snapshot, family: "extension", invalidIdentifier: false, path: path)
        }
        if roll < 86 {
            let path = random.pick(["/healthz", "/readyz", "/metrics", "/healthz/", "/HEALTHZ", "/metrics%00", "/readyz?x=1"])
            return FuzzTarget(bytes: Array(path.utf8), kind: .ops, family: "ops", invalidIdentifier: false, path: path)
        }
        if roll < 92 {
            let path = random.pick([
                "/admin/v1/cluster", "/admin/v1/cluster/members", "/admin/v1/cluster/members/7",
                "/admin/v1/cluster/members/-1", "/admin/v1/cluster/members/99999999999999999999999",
                "/admin/v1/cluster/transfer-leader", "/admin/v1/snapshot", "/admin/v1/streams/_default/f0",
                "/admin/v1/streams/fz/%FF", "/admin/v1/cluster%2fmembers", "/admin/v1/cluster%2Ftransfer-leader",
                "/admin/v1/", "/admin/../healthz", "/admin/v1/cluster?x=%00",
            ])
            let unimplemented = path.hasPrefix("/admin/v1/cluster/members") || path == "/admin/v1/snapshot"
            return FuzzTarget(bytes: Array(path.utf8), kind: .admin, family: "admin", invalidIdentifier: false, unimplemented: unimplemented, path: path)
        }
        return garbageTarget(&random)
    }

    /// Request targets no route matches, or that are not paths at all.
    static func garbageTarget(_ random: inout FuzzRandom) -> FuzzTarget {
        var bytes: [UInt8]
        switch random.below(9) {
        case 0: bytes = Array("*".utf8)
        case 1: bytes = Array("http://127.0.0.1/ds/_default/f0".utf8)
        case 2: bytes = []
        case 3: bytes = Array(random.pick(["/", "//", "/ds", "/ds/", "/streams/", "/v1/stream/", "/v1/stream//x", "/ds//f0", "/streams"]).utf8)
        case 4: bytes = Array("/ds/_default/".utf8) + [0xFF, 0xFE, 0x80]
        case 5: bytes = Array("/streams/a".utf8) + [0x00] + Array("b".utf8)
        case 6: bytes = Array("/".utf8) + Array(repeating: UInt8(ascii: "x"), count: random.pick([1024, 9000, 70000]))
        case 7: bytes = Array("/ds/_default/f0#frag".utf8)
        default: bytes = Array("/".utf8) + random.bytes(random.int(in: 1...24)).map { $0 == 0x20 || $0 == 0x0D || $0 == 0x0A ? 0x41 : $0 }
        }
        return FuzzTarget(bytes: bytes, kind: .garbage, family: "garbage", invalidIdentifier: false, path: String(decoding: bytes, as: UTF8.self))
    }
}
