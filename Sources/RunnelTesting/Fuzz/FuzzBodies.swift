/// Request bodies for the fuzzer: empty, random bytes, text, valid and invalid JSON (deeply
/// nested, huge arrays, lone surrogates, invalid UTF-8 inside strings), and bodies past the
/// node's body limit (protocol §9 JSON mode; api.md limits).
public enum FuzzBodies {
    /// A body and a tag naming its kind.
    public static func body(_ random: inout FuzzRandom, maxBodyBytes: Int) -> ([UInt8], String) {
        switch random.below(20) {
        case 0, 1: return ([], "empty")
        case 2, 3, 4: return (random.bytes(random.int(in: 1...4096)), "random")
        case 5, 6: return (Array("hello \(random.below(1000))\n".utf8), "text")
        case 7, 8: return (Array(random.pick(["{\"a\":1}", "[1,2,3]", "[{\"k\":\"v\"},{\"k\":null}]", "\"s\"", "0", "true", "{}"]).utf8), "json")
        case 9: return (Array("[]".utf8), "json-empty-array")
        case 10:
            let depth = random.pick([64, 1_000, 20_000, 100_000])
            let open = random.chance(0.5) ? "[" : "{\"a\":"
            let close = open == "[" ? "]" : "}"
            return (Array((String(repeating: open, count: depth) + "1" + String(repeating: close, count: depth)).utf8), "json-nested-\(depth)")
        case 11:
            let count = random.pick([1_000, 30_000])
            return (Array(("[" + (0..<count).map { String($0) }.joined(separator: ",") + "]").utf8), "json-huge-array-\(count)")
        case 12:
            if random.chance(0.3) {
                // Grammatical JSON that parsers often refuse anyway (RFC 8259 §6, §8.2, §8.1).
                return (Array(random.pick(["[1e999999]", "[\"\\ud800\"]", "\u{feff}[1]", "[-0]"]).utf8), "json-edge")
            }
            return (Array(random.pick(["{\"a\":", "[1,]", "{'a':1}", "[1 2]", "NaN", "{\"a\":1}{\"b\":2}",
                                        "[\"\\u00\"]", "[-]", "[01]", "[1]x"]).utf8), "json-invalid-strict")
        case 13:
            return (Array("[\"".utf8) + [0xFF, 0xC3, 0x28] + Array("\"]".utf8), "json-bad-utf8")
        case 14:
            // Just past the node's limit: must be a 413, never a 5xx or a stored stream.
            return (Array(repeating: UInt8(ascii: "x"), count: maxBodyBytes + 1), "over-limit")
        case 15:
            return (Array(repeating: UInt8(ascii: "y"), count: random.int(in: 10_000...100_000)), "large")
        case 16:
            return (Array("event: x\ndata: y\n\n".utf8), "sse-like")
        default:
            return (Array("\(random.next())".utf8), "digits")
        }
    }
}
