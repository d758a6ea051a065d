/// Request headers for the fuzzer: the protocol's headers (protocol §2.1) with valid values,
/// malformed values, extremes and invalid bytes, plus repeated and huge headers. A header
/// value that the protocol makes a 400 for the request's method comes back as a rejection.
public enum FuzzHeaders {
    /// A header as bytes on the wire; values may hold bytes that are not UTF-8.
    public typealias Field = (name: [UInt8], value: [UInt8])

    static let contentTypes: [[UInt8]] = [
        Array("application/octet-stream".utf8), Array("text/plain".utf8), Array("application/json".utf8),
        Array("application/json; charset=utf-8".utf8), Array("APPLICATION/JSON".utf8), [],
        [0xFF, 0xFE, 0x2F, 0x78], Array("text/plain; charset=\u{00e9}".utf8), Array("multipart/mixed; boundary=x".utf8),
        Array(String(repeating: "t", count: 2000).utf8), Array("text/event-stream".utf8),
    ]
    /// Producer epoch and sequence values; the first three are valid (protocol §2.1:
    /// 0 ≤ n ≤ 2^53−1, digits only).
    static let producerNumbers = ["0", "1", "9007199254740991", "9007199254740992", "-1", "1e3", "0xyz", "18446744073709551616", "", " 1", "1 "]
    static let etags = [
        "\"x\"", "*", "W/\"x\"", "", "1:0000000000000000_0000000000000000:0000000000000000_0000000000000003",
        "\"1:0000000000000000_0000000000000000:0000000000000000_0000000000000003\"", "\u{00ff}",
    ]

    /// The protocol headers for `method` on a stream; returns the fields and any rejection.
    public static func streamHeaders(_ random: inout FuzzRandom, method: String, target: String) -> ([Field], FuzzCase.Rejection?, [String]) {
        var fields: [Field] = []
        var rejection: FuzzCase.Rejection?
        var tags: [String] = []
        func add(_ name: String, _ value: String) { fields.append((Array(name.utf8), Array(value.utf8))) }

        if (method == "PUT" || method == "POST") && random.chance(0.8) {
            fields.append((Array("Content-Type".utf8), random.pick(contentTypes)))
        } else if random.chance(0.05) {
            fields.append((Array("Content-Type".utf8), random.pick(contentTypes)))
        }
        if random.chance(0.05) {
            fields.append((Array("Content-Type".utf8), random.pick(contentTypes)))
            tags.append("repeated-content-type")
        }
        if method == "PUT" {
            var ttl = false
            if random.chance(0.2) {
                let value = random.pick(["0", "60", "3600", "-1", "1.5", "1e3", "+5", "007", "", "99999999999999999999999", "9223372036854775807", "abc"])
                add("Stream-TTL", value)
                ttl = true
                if !["0", "60", "3600", "9223372036854775807"].contains(value) { rejection = .init("Stream-TTL \(value)") }
            }
            if random.chance(0.15) {
                let value = random.pick(["2099-01-01T00:00:00Z", "2099-01-01T00:00:00+00:00", "2000-01-01T00:00:00Z", "garbage",
                                         "9999-12-31T23:59:59Z", "0000-00-00T00:00:00Z", "", "2099-13-45T99:99:99Z"])
                add("Stream-Expires-At", value)
                if ["garbage", "0000-00-00T00:00:00Z", "", "2099-13-45T99:99:99Z"].contains(value) { rejection = .init("Stream-Expires-At \(value)") }
                if ttl { rejection = .init("both Stream-TTL and Stream-Expires-At") }
            }
            if random.chance(0.15) {
                let source = random.chance(0.7) ? FuzzPaths.streamPath(&random, allowInvalid: false).path
                    : random.pick(["garbage", "http://evil.example/ds/_default/f0", "/streams/%FF", target, "/ds/nobkt/x", ""])
                add("Stream-Forked-From", source)
                tags.append("fork")
                if random.chance(0.5) { add("Stream-Fork-Offset", random.pick(FuzzPaths.offsets)) }
                if random.chance(0.4) { add("Stream-Fork-Sub-Offset", random.pick(["0", "1", "3", "-1", "01", "99999999999999999999"])) }
            } else if random.chance(0.05) {
                add("Stream-Fork-Sub-Offset", "0")
                rejection = .init("Stream-Fork-Sub-Offset without Stream-Forked-From")
            }
        }
        if (method == "PUT" || method == "POST") && random.chance(0.15) {
            let value = random.pick(["true", "TRUE", "True", "false", "yes", "1", "", "true, true"])
            add("Stream-Closed", value)
            if random.chance(0.3) { add("Stream-Closed", random.pick(["true", "false"])); tags.append("repeated-closed") }
        }
        if method == "POST" && random.chance(0.25) {
            let id = random.pick([Array("p1".utf8), Array("p2".utf8), [], [0xFF], [0x70, 0xC3], Array(String(repeating: "p", count: 4000).utf8)])
            let epoch = random.pick(producerNumbers), seq = random.pick(producerNumbers)
            let partial = random.chance(0.1) ? random.below(3) : nil
            if partial != 0 { fields.append((Array("Producer-Id".utf8), id)) }
            if partial != 1 { add("Producer-Epoch", epoch) }
            if partial != 2 { add("Producer-Seq", seq) }
            tags.append("producer")
            // Optional whitespace around a value is not part of it (RFC 9110 §5.5).
            let validNumbers = Array(producerNumbers.prefix(3)) + [" 1", "1 "]
            if partial != nil { rejection = .init("partial producer headers") }
            else if id.isEmpty { rejection = .init("empty Producer-Id") }
            else if id == [0xFF] || id == [0x70, 0xC3] { rejection = .init("Producer-Id is not UTF-8") }
            else if !validNumbers.contains(epoch) || !validNumbers.contains(seq) { rejection = .init("Producer-Epoch \(epoch) / Producer-Seq \(seq)") }
        }
        if method == "POST" && random.chance(0.1) {
            fields.append((Array("Stream-Seq".utf8), random.pick([Array("1".utf8), Array("10".utf8), Array("09".utf8), Array("a".utf8), [], [0xFF], Array(String(repeating: "9", count: 3000).utf8)])))
        }
        if (method == "POST" || method == "PUT") && random.chance(0.1) { add("If-Match", random.pick(etags)) }
        if method == "GET" && random.chance(0.1) { add("If-None-Match", random.pick(etags)) }
        if method == "GET" && random.chance(0.05) { add("Accept", "text/event-stream") }
        return (fields, rejection, tags)
    }

    /// Headers that fit any request: Origin (CORS), Authorization, Expect, huge and repeated
    /// headers, odd names. `hostPort` is the server's address for a correct `Host`.
    public static func generalHeaders(_ random: inout FuzzRandom, hostPort: String) -> ([Field], [String]) {
        var fields: [Field] = []
        var tags: [String] = []
        func add(_ name: String, _ value: String) { fields.append((Array(name.utf8), Array(value.utf8))) }
        switch random.below(20) {
        case 0: tags.append("no-host")
        case 1: add("Host", hostPort); add("Host", "evil.example"); tags.append("duplicate-host")
        case 2: fields.append((Array("Host".utf8), [0xFF, 0x00, 0x41])); tags.append("garbage-host")
        default: add("Host", hostPort)
        }
        if random.chance(0.15) { add("Origin", random.pick(["https://example.com", "null", "\u{00e9}"])) }
        if random.chance(0.05) { add("Authorization", random.pick(["Bearer x", "Bearer ", "Basic \u{00ff}", ""])) }
        if random.chance(0.03) {
            add("X-Huge", String(repeating: "h", count: random.pick([8_000, 70_000, 200_000]))); tags.append("huge-header")
        }
        if random.chance(0.03) {
            for i in 0..<random.pick([50, 500, 3000]) { add("X-Many-\(i)", "v") }
            tags.append("many-headers")
        }
        if random.chance(0.03) {
            let odd = random.pick([
                (Array("X Space".utf8), Array("v".utf8)), ([], Array("empty-name".utf8)), (Array("X-Nul".utf8), [0x61, 0x00, 0x62]),
                (Array("X-Ctl".utf8), [0x01, 0x7F]), ([0xFF], Array("v".utf8)), (Array("X-Fold".utf8), Array("a\r\n b".utf8)),
                (Array("X-Colon:".utf8), Array("v".utf8)),
            ])
            fields.append(odd)
            tags.append("odd-header")
        }
        return (fields, tags)
    }
}
