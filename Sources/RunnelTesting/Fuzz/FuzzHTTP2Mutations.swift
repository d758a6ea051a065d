/// The hostile HTTP/2 mutations, one per case (RFC 9113, RFC 7541). Each returns its tag and
/// whether stream 1 still carries a request a correct server must answer.
extension FuzzHTTP2Generator {
    /// Appends one mutation to `bytes` (which hold the opening, unless the mutation drops it).
    func mutate(_ bytes: inout [UInt8], _ random: inout FuzzRandom) -> (String, Bool) {
        typealias W = HTTP2Wire
        let (fields, body, _) = request(&random)
        let valid = Self.frames(fields, body, stream: 1)
        let block = W.headerBlock(fields)
        switch random.below(22) {
        case 0:
            // Unknown frame types must be ignored (RFC 9113 §4.1), so the request still counts.
            bytes += W.frame(UInt8(random.int(in: 10...255)), flags: UInt8(random.below(256)), stream: UInt32(random.below(4)), random.bytes(random.below(64))) + valid
            return ("unknown-type", true)
        case 1:
            let lie = random.pick([0, block.count - 1, block.count + 1, block.count + 100, 0xFF_FFFF])
            bytes += W.frame(W.FrameType.headers.rawValue, flags: W.endHeaders | W.endStream, stream: 1, block, declaredLength: max(0, lie))
            return ("bad-length", false)
        case 2:
            bytes += Self.frames(fields, body, stream: UInt32(random.pick([2, 4, 0x7FFF_FFFE])))
            return ("even-stream", false)
        case 3:
            bytes += W.frame(random.pick([W.FrameType.headers, .data, .continuation, .windowUpdate]),
                             flags: W.endHeaders | W.endStream, stream: 0, block)
            return ("stream-zero", false)
        case 4:
            // Pairs of (name, value) as text, turned into bytes in one step: a literal of
            // nested byte arrays is too much for the type checker.
            let badText: [(String, String)] = [
                (":foo", "bar"), (":path", "/healthz"), (":method", "GET"), ("Upper-Case", "x"),
                ("connection", "keep-alive"), ("transfer-encoding", "chunked"), ("te", "gzip"),
                ("x-nul", "a\u{0}"), ("x-crlf", "a\r\nb"), ("", "empty-name"), (":status", "200"),
            ]
            let (badName, badValue) = random.pick(badText)
            let bad: [Field] = [(Array(badName.utf8), Array(badValue.utf8))]
            let fieldsBad = random.chance(0.5) ? fields + bad : bad + fields
            bytes += W.frame(.headers, flags: W.endHeaders | W.endStream, stream: 1, W.headerBlock(fieldsBad))
            return ("bad-header", false)
        case 5:
            let method = random.chance(0.5) ? FuzzGenerator.oddMethod(&random) : random.pick(["", "G E T", "get", "CONNECT"])
            let (odd, _, _) = request(&random, method: method)
            bytes += W.frame(.headers, flags: W.endHeaders | W.endStream, stream: 1, W.headerBlock(odd))
            return ("odd-method", false)
        case 6:
            bytes += W.frame(.headers, flags: W.endHeaders, stream: 1, block) + W.frame(.data, stream: 1, Array("partial".utf8))
                + W.frame(.rstStream, stream: 1, W.be32(UInt32(random.below(14))))
            return ("rst-mid-request", false)
        case 7:
            bytes += W.frame(W.FrameType.rstStream.rawValue, stream: UInt32(random.pick([0, 99, 2])), random.pick([W.be32(8), [0, 0, 8], W.be32(8) + [0]]))
            return ("rst-odd", false)
        case 8:
            bytes += W.frame(.windowUpdate, stream: UInt32(random.pick([0, 1])), W.be32(random.pick([0, 0x7FFF_FFFF, 0xFFFF_FFFF])))
                + W.frame(.windowUpdate, stream: 0, W.be32(0x7FFF_FFFF)) + valid
            return ("window-update", false)
        case 9:
            bytes += W.frame(W.FrameType.ping.rawValue, flags: UInt8(random.below(2)), stream: UInt32(random.pick([0, 0, 1])), random.bytes(random.pick([8, 8, 7, 9, 0]))) + valid
            return ("ping", false)
        case 10:
            bytes += W.frame(.priority, stream: 1, W.be32(1) + [16]) + valid
            return ("priority-self", false)
        case 11, 12:
            // A CONTINUATION flood: many small fragments, bounded in total.
            let total = random.pick([32 * 1024, 256 * 1024, 2 * 1024 * 1024])
            let piece = W.literal(Array("x-flood".utf8), Array(repeating: UInt8(ascii: "f"), count: random.pick([1, 100, 4000])))
            bytes += W.frame(.headers, flags: W.endStream, stream: 1, block)
            var sent = 0
            let finish = random.chance(0.3)
            while sent < total {
                sent += piece.count
                bytes += W.frame(.continuation, flags: finish && sent >= total ? W.endHeaders : 0, stream: 1, piece)
            }
            return ("continuation-flood-\(total)", false)
        case 13:
            bytes += W.frame(W.FrameType.settings.rawValue, flags: UInt8(random.below(2)), stream: UInt32(random.pick([0, 1])),
                             random.pick([[0, 1, 0], [0, 4, 0x80, 0, 0, 0], [0, 5, 0, 0, 0, 100], [0, 2, 0, 0, 0, 2], [0xFF, 0xFF, 1, 2, 3, 4], [0, 4, 0x7F, 0xFF, 0xFF, 0xFF]])) + valid
            return ("settings", false)
        case 14:
            let garbage = random.pick([[0x80], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], [0xBF, 0x81], [0x00, 0x85, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x41],
                                       [0x3F, 0xE1, 0x1F], [0x00, 0x7F], [0x40, 0x81, 0xFF, 0x81, 0xFF], random.bytes(16)])
            bytes += W.frame(.headers, flags: W.endHeaders | W.endStream, stream: 1, random.chance(0.5) ? garbage + block : block + garbage)
            return ("hpack-garbage", false)
        case 15:
            let declared = body.count + random.pick([-1, 1, 1000])
            bytes += W.frame(.headers, flags: W.endHeaders, stream: 1, W.headerBlock(fields + [(Array("content-length".utf8), Array(String(declared).utf8))]))
                + W.frame(.data, flags: W.endStream, stream: 1, body)
            return ("content-length-mismatch", false)
        case 16:
            bytes += W.frame(.headers, flags: W.endHeaders, stream: 1, block)
            for _ in 0..<6 { bytes += W.frame(.data, stream: 1, Array(repeating: 0x61, count: 16_384)) }
            return ("window-overrun", false)
        case 17:
            bytes += W.frame(.goaway, stream: 0, W.be32(0) + W.be32(UInt32(random.below(14)))) + valid
            return ("client-goaway", false)
        case 18:
            bytes = Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            return ("no-preface", false)
        case 19:
            bytes += random.bytes(random.int(in: 1...512))
            return ("random-bytes", false)
        case 20:
            bytes += W.frame(.headers, flags: W.endHeaders | W.endStream | W.padded, stream: 1, [UInt8(random.pick([200, 255]))] + block)
            return ("bad-padding", false)
        default:
            bytes += valid + Self.frames(fields, body, stream: 1)
            return ("closed-stream-reuse", false)
        }
    }
}
