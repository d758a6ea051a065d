/// Query strings for the fuzzer: read offsets (sentinels, garbage, extremes), live modes,
/// cursors at the edges of 64-bit arithmetic, and listing parameters (protocol §2.3, §8,
/// §11; api.md §2).
public enum FuzzQueries {
    /// Cursor values around the integer limits a server might do arithmetic on.
    static let cursors = [
        "9223372036854775807", "9223372036854775806", "-9223372036854775808", "18446744073709551615",
        "18446744073709551616", "0", "-1", "1", "abc", "1e9", "", "99999999999999999999999999999999",
        "%00", "0x10",
    ]

    /// A query for a stream read, the live mode it selects, and the rejection it demands if
    /// the offset is malformed (protocol §2.3: empty, repeated or unparseable is a 400).
    public struct Read: Sendable {
        public var query: String
        public var live: String?
        public var rejection: FuzzCase.Rejection?
    }

    /// A query for `GET` on a stream.
    public static func read(_ random: inout FuzzRandom) -> Read {
        if random.chance(0.25) {
            // A live read at the tail with an extreme cursor: the combination where cursor
            // arithmetic (protocol §11) meets a real wait.
            let live = random.pick(["long-poll", "long-poll", "sse"])
            var parts = ["offset=" + random.pick(["now", "now", "-1", "0000000000000000_0000000000000000"]), "live=" + live]
            if random.chance(0.9) { parts.append("cursor=" + random.pick(random.chance(0.6) ? Array(cursors.prefix(4)) : cursors)) }
            return Read(query: "?" + parts.joined(separator: "&"), live: live, rejection: nil)
        }
        var parts: [String] = []
        var rejection: FuzzCase.Rejection?
        var live: String?
        if random.chance(0.85) {
            let offset = random.pick(FuzzPaths.offsets)
            parts.append("offset=" + offset)
            if ["abc", "", "-2", "_", "%00", "0000000000000000_", "99999999999999999999999_1",
                "0000000000000000_-000000000000001", "18446744073709551616"].contains(offset) {
                rejection = .init("malformed offset \(offset)")
            }
            if random.chance(0.05) {
                parts.append("offset=" + random.pick(FuzzPaths.offsets))
                rejection = .init("repeated offset")
            }
        }
        if random.chance(0.3) {
            live = random.pick(["long-poll", "sse", "long-poll", "sse", "poll", "", "SSE", "long-poll%00"])
            parts.append("live=" + live!)
            if !["long-poll", "sse"].contains(live!) { live = nil }
        }
        if random.chance(0.3) { parts.append("cursor=" + random.pick(cursors)) }
        if random.chance(0.1) { parts.append(random.pick(["foo=bar", "consistency=local", "consistency=%FF", "timeout=1", "=", "&&", "offset", "a=%zz"])) }
        if random.chance(0.1) { parts.shuffle(using: &random) }
        return Read(query: parts.isEmpty ? "" : "?" + parts.joined(separator: "&"), live: live, rejection: rejection)
    }

    /// A query for `GET /ds/{bucket}/streams`.
    public static func listing(_ random: inout FuzzRandom) -> String {
        var parts: [String] = []
        if random.chance(0.5) { parts.append("prefix=" + random.pick(["f", "", "caf%C3", "%FF", "j", "%00", String(repeating: "p", count: 300)])) }
        if random.chance(0.4) { parts.append("after=" + random.pick(["f0", "", "%FF", "zzzz", "caf%C3%A9", "%00"])) }
        if random.chance(0.5) {
            parts.append("limit=" + random.pick(["1", "2", "1000", "0", "1001", "-1", "abc", "", "99999999999999999999", "9223372036854775807"]))
        }
        if random.chance(0.1) { parts.append("limit=1&limit=2") }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }
}
