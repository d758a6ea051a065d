/// Single-fault requests: an otherwise valid request on an existing fixture stream with
/// exactly one definite protocol violation (protocol §14, api.md §1–2). Random requests
/// rarely get everything else right, so a server that accepts a violation (a 2xx where a 400
/// is due) would hide behind the other faults; these cases isolate each rule.
extension FuzzGenerator {
    /// Case `index` as a single-fault request, with its rejection.
    func singleFaultCase(_ index: Int, _ random: inout FuzzRandom) -> FuzzCase {
        let bytePath = FuzzFixtures.path(random.pick(FuzzFixtures.byteStreams), &random)
        let jsonPath = FuzzFixtures.path(random.pick(FuzzFixtures.jsonStreams), &random)
        let fresh = FuzzFixtures.path("f" + random.token(6, from: "0123456789"), &random)
        let octet = ("Content-Type", "application/octet-stream")
        var headers: [(String, [UInt8])] = []
        var method = "POST", target = bytePath, body: [UInt8] = Array("x".utf8)
        let reason: String
        func add(_ name: String, _ value: String) { headers.append((name, Array(value.utf8))) }
        switch random.below(14) {
        case 0:
            add(octet.0, octet.1)
            headers.append(("Producer-Id", random.pick([[0xFF], [0x70, 0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80]])))
            add("Producer-Epoch", "0"); add("Producer-Seq", "0")
            reason = "Producer-Id not UTF-8"
        case 1:
            add(octet.0, octet.1)
            add("Producer-Id", random.pick(["", "p"]))
            let bad = random.pick(["9007199254740992", "-1", "1e3", "0xyz", "18446744073709551616", ""])
            add("Producer-Epoch", random.chance(0.5) ? bad : "0"); add("Producer-Seq", bad)
            reason = "Producer number invalid"
        case 2:
            add(octet.0, octet.1)
            let set = [("Producer-Id", "p"), ("Producer-Epoch", "0"), ("Producer-Seq", "0")]
            let keep = random.below(3)
            for (i, header) in set.enumerated() where i != keep { add(header.0, header.1) }
            reason = "Producer headers partial"
        case 3:
            add(octet.0, octet.1)
            body = []
            if random.chance(0.5) { add("Stream-Closed", random.pick(["false", "yes", "1", ""])) }
            reason = "empty append without close"
        case 4:
            reason = "append without Content-Type"
        case 5:
            target = jsonPath
            add("Content-Type", random.pick(["application/json", "application/json; charset=utf-8"]))
            body = Array(random.pick(["[]", "[01]", "{\"a\":", "[1,]", "NaN", "[1]x", "{'a':1}"]).utf8) + (random.chance(0.2) ? [0xFF] : [])
            reason = "JSON append invalid"
        case 6:
            method = "PUT"; target = fresh; body = []
            add("Stream-TTL", random.pick(["-1", "1.5", "1e3", "+5", "007", "", "abc", "99999999999999999999999"]))
            reason = "Stream-TTL invalid"
        case 7:
            method = "PUT"; target = fresh; body = []
            add("Stream-Expires-At", random.pick(["garbage", "0000-00-00T00:00:00Z", "", "2099-13-45T99:99:99Z", "2099-01-01"]))
            reason = "Stream-Expires-At invalid"
        case 8:
            method = "PUT"; target = fresh; body = []
            add("Stream-TTL", "60"); add("Stream-Expires-At", "2099-01-01T00:00:00Z")
            reason = "Stream-TTL with Stream-Expires-At"
        case 9:
            method = "PUT"; target = fresh; body = []
            add("Stream-Fork-" + random.pick(["Sub-Offset", "Offset"]), random.pick(["0", "0000000000000000_0000000000000000"]))
            reason = "fork offset without source"
        case 10:
            method = "GET"; body = []
            target += random.pick(["?offset=abc", "?offset=", "?offset=-1&offset=now", "?live=long-poll", "?live=sse", "?offset=-1&live=poll",
                                   "?offset=0000000000000000_", "?offset=-2"])
            reason = "read offset or live invalid"
        case 11:
            method = "GET"; body = []
            target = "/ds/" + random.pick(["_default", "fz"]) + "/streams?limit=" + random.pick(["0", "1001", "-1", "abc", "", "99999999999999999999"])
            reason = "listing limit invalid"
        case 12:
            method = random.pick(["PUT", "GET", "POST", "DELETE"])
            add(octet.0, octet.1)
            target = random.pick(["/streams/", "/ds/_default/", "/v1/stream/"]) + random.pick(["%FF", "%C3%28", "a%00b", "%2E%2E", "%ED%A0%80"])
            reason = "stream name invalid"
        default:
            method = random.pick(["PUT", "GET", "DELETE"]); body = []
            target = "/ds/" + random.pick(["UP", "b.c", String(repeating: "b", count: 65), "%FF", "a%20b"]) + random.pick(["", "/f0", "/streams"])
            reason = "bucket name invalid"
        }
        var text = "\(method) \(target) HTTP/1.1\r\nHost: \(hostPort)\r\n"
        if !body.isEmpty || method == "POST" || method == "PUT" { text += "Content-Length: \(body.count)\r\n" }
        var bytes = Array(text.utf8)
        for (name, value) in headers { bytes += Array("\(name): ".utf8) + value + [0x0D, 0x0A] }
        bytes += [0x0D, 0x0A] + body
        return FuzzCase(seed: seed, index: index, transport: .http1, writes: [bytes], wait: .answer(responses: 1), methods: [method],
                        mustReject: .init(reason), tags: ["single-fault", method])
    }
}
