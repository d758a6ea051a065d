import Foundation
import RunnelTesting
import Testing

/// Issue 13, findings 2 and 3 against a real process: names and producer ids are bytes, so
/// `café` in NFC and in NFD are two streams, racing a delete of one against a create of the
/// other loses nothing, and a restart (which replays the log over the stored rows) brings
/// back exactly what was acknowledged.
@Suite(.serialized) struct NameIdentityTests {
    static let nfc = "caf%C3%A9"
    static let nfd = "cafe%CC%81"

    @Test func canonicallyEquivalentNamesAreTwoStreamsAcrossARestart() async throws {
        let dir = RunnelProcess.temporaryDirectory("names")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir)
        try await node.start()
        let http = try await HTTPTestClient(port: node.port)
        let text = [("Content-Type", "text/plain")]

        #expect(try await http.request("PUT", "/v1/stream/\(Self.nfc)", headers: text).status == 201)
        #expect(try await http.request("PUT", "/v1/stream/\(Self.nfd)", headers: text).status == 201,
                "the NFD spelling is a new stream, not the NFC one again")
        for _ in 0..<3 {
            #expect(try await http.request("POST", "/v1/stream/\(Self.nfd)", headers: text, body: Array("b".utf8)).status == 204)
        }
        // The race of the finding, on two connections, many times over.
        let other = try await HTTPTestClient(port: node.port)
        for _ in 0..<20 {
            async let deleted = http.request("DELETE", "/v1/stream/\(Self.nfc)")
            async let created = other.request("PUT", "/v1/stream/\(Self.nfd)", headers: text)
            let (d, c) = try await (deleted, created)
            #expect(d.status == 204 || d.status == 404)
            #expect(c.status == 200, "the NFD stream exists: \(c.status)")
            #expect(try await http.request("PUT", "/v1/stream/\(Self.nfc)", headers: text).status == 201)
        }
        // Producers whose ids are the two spellings are two producers.
        for id in ["caf\u{E9}", "cafe\u{301}"] {
            let r = try await http.request("POST", "/v1/stream/\(Self.nfd)", headers: text + [
                ("Producer-Id", id), ("Producer-Epoch", "0"), ("Producer-Seq", "0")], body: Array("p".utf8))
            #expect(r.status == 200, "producer \(Array(id.utf8)): \(r.status) \(r.text)")
        }
        let listing = try await http.request("GET", "/ds/_default/streams?prefix=caf")
        #expect(listing.status == 200)
        #expect(listing.text.components(separatedBy: "\"stream\"").count - 1 == 2, "\(listing.text)")
        await http.close()
        await other.close()

        node.terminate()
        let restarted = RunnelProcess(dataDirectory: dir)
        try await restarted.start()
        defer { restarted.terminate() }
        let reader = try await HTTPTestClient(port: restarted.port)
        let b = try await reader.request("GET", "/v1/stream/\(Self.nfd)?offset=-1")
        #expect(b.status == 200 && b.text == "bbbpp", "\(b.status) \(b.text)")
        let a = try await reader.request("GET", "/v1/stream/\(Self.nfc)?offset=-1")
        #expect(a.status == 200 && a.text.isEmpty, "\(a.status) \(a.text)")
        #expect(try await reader.request("DELETE", "/v1/stream/\(Self.nfc)").status == 204)
        #expect(try await reader.request("DELETE", "/v1/stream/\(Self.nfd)").status == 204)
        #expect(try await reader.request("DELETE", "/v1/stream/\(Self.nfd)").status == 404)
        let bucket = try await reader.request("GET", "/ds/_default")
        #expect(bucket.text.contains("\"streams\":0"), "\(bucket.text)")
        await reader.close()
        #expect(restarted.isRunning)
    }
}
