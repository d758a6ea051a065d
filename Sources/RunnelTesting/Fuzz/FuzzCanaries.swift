/// Canary streams: created before the fuzzing on every route family, in byte and JSON mode,
/// read back after it. Their names carry `marker`, which the generator never produces (and
/// `FuzzCanaries.mentioned` double-checks), so any change to them is damage the fuzzing did
/// to streams it never addressed.
public enum FuzzCanaries {
    /// The name part no fuzz request contains.
    public static let marker = "canary"

    /// A canary as planted: where it lives and what a full read returned.
    public struct Canary: Sendable {
        public var path: String
        public var body: [UInt8]
        public var nextOffset: String?
    }

    /// (create path, content type, initial body, appended body).
    static let plan: [(String, String, [UInt8], [UInt8])] = [
        ("/ds/canaries/canary-bytes", "application/octet-stream", [0, 1, 2, 0xFF, 0x0D, 0x0A], [9, 8, 7]),
        ("/ds/_default/canary-json", "application/json", Array("[1,{\"a\":\"b\"}]".utf8), Array("{\"c\":3}".utf8)),
        ("/streams/canary-text", "text/plain", Array("hello ".utf8), Array("world".utf8)),
        ("/v1/stream/canary-v1/canary-nested/x", "application/json", Array("[\"x\"]".utf8), Array("[2,3]".utf8)),
        ("/v1/stream/canary-plain", "application/octet-stream", [], Array(repeating: 0xAB, count: 3000)),
    ]

    /// Creates the canaries (and their `/ds/` bucket) and records what they read back.
    public static func plant(_ client: HTTPTestClient) async throws -> [Canary] {
        let bucket = try await client.request("PUT", "/ds/canaries", timeout: .seconds(10))
        guard bucket.status == 201 || bucket.status == 200 else {
            throw HTTPTestClient.ClientError(description: "canary bucket: \(bucket.status) \(bucket.text)")
        }
        var canaries: [Canary] = []
        for (path, type, first, second) in plan {
            let created = try await client.request("PUT", path, headers: [("Content-Type", type)], body: first, timeout: .seconds(10))
            let appended = try await client.request("POST", path, headers: [("Content-Type", type)], body: second, timeout: .seconds(10))
            guard created.status == 201 || created.status == 200, appended.status == 204 || appended.status == 200 else {
                throw HTTPTestClient.ClientError(description: "canary \(path): \(created.status) \(appended.status) \(appended.text)")
            }
            let read = try await client.request("GET", path + "?offset=-1", timeout: .seconds(10))
            guard read.status == 200 else { throw HTTPTestClient.ClientError(description: "canary \(path) read: \(read.status)") }
            canaries.append(Canary(path: path, body: read.body, nextOffset: read.header("Stream-Next-Offset")))
        }
        return canaries
    }

    /// Reads every canary again; a finding for each that differs or cannot be read.
    public static func verify(_ client: HTTPTestClient, _ canaries: [Canary]) async -> [FuzzFinding] {
        var findings: [FuzzFinding] = []
        for canary in canaries {
            do {
                let read = try await client.request("GET", canary.path + "?offset=-1", timeout: .seconds(10))
                if read.status != 200 || read.body != canary.body || read.header("Stream-Next-Offset") != canary.nextOffset {
                    findings.append(FuzzFinding(.canary, "\(canary.path): \(read.status), \(read.body.count) bytes (was \(canary.body.count)), "
                        + "next offset \(read.header("Stream-Next-Offset") ?? "none") (was \(canary.nextOffset ?? "none"))"))
                }
            } catch {
                findings.append(FuzzFinding(.canary, "\(canary.path): cannot read: \(error)"))
            }
        }
        return findings
    }

    /// Whether `bytes` name a canary, raw or percent-decoded, in any letter case. One pass
    /// without copies: it runs on every case, bodies of hundreds of KiB included.
    public static func mentioned(in bytes: [UInt8]) -> Bool {
        let needle = Array(marker.utf8)
        var matched = 0
        var i = 0
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x41...0x46: byte - 0x37
            case 0x61...0x66: byte - 0x57
            default: nil
            }
        }
        while i < bytes.count {
            var byte = bytes[i]
            i += 1
            if byte == 0x25, i + 1 < bytes.count, let high = hex(bytes[i]), let low = hex(bytes[i + 1]) {
                byte = high << 4 | low
                i += 2
            }
            if (0x41...0x5A).contains(byte) { byte += 0x20 }
            // The marker has no prefix that is also its suffix, so a mismatch restarts the match.
            matched = byte == needle[matched] ? matched + 1 : (byte == needle[0] ? 1 : 0)
            if matched == needle.count { return true }
        }
        return false
    }
}
