import Foundation
import RunnelTesting
import Testing

/// Issue 13: a seeded request fuzzer against a real node (docs/fuzzing.md). Hostile HTTP/1.1
/// requests on a plain node and hand-encoded HTTP/2 frames on a TLS node; the oracle demands
/// no 5xx, no hang, no crash, definite protocol violations refused, canary streams intact and
/// metrics labels bounded. `make test` runs the short fixed budget below; `make fuzz` a longer
/// one over more seeds. A finding prints its seed, case and bytes (`make fuzz SEED=… CASE=…`).
@Suite(.serialized) struct FuzzTests {
    @Test func hostileRequestsLeaveTheNodeUpAndItsDataIntact() async throws {
        let configuration = FuzzConfiguration.fromEnvironment()
        let report = try await FuzzRunner(configuration: configuration).run()
        let summary = report.summary(ignoring: configuration.ignoredKinds)
        print(summary)
        #expect(report.cases > 0)
        let findings = report.counted(ignoring: configuration.ignoredKinds).count
        #expect(findings == 0, Comment(rawValue: summary))
    }

    /// The generator is a pure function of (seed, case): the property replay depends on.
    @Test func aSeedRegeneratesTheSameBytes() {
        let one = FuzzGenerator(seed: 7, hostPort: "127.0.0.1:1", maxBodyBytes: 1024)
        let two = FuzzGenerator(seed: 7, hostPort: "127.0.0.1:1", maxBodyBytes: 1024)
        let other = FuzzGenerator(seed: 8, hostPort: "127.0.0.1:1", maxBodyBytes: 1024)
        #expect((0..<200).allSatisfy { one.http1Case($0).bytes == two.http1Case($0).bytes })
        #expect((0..<200).contains { one.http1Case($0).bytes != other.http1Case($0).bytes })
        let h2 = FuzzHTTP2Generator(seed: 7, authority: "127.0.0.1:1", maxBodyBytes: 1024)
        #expect((0..<100).allSatisfy { h2.http2Case($0).bytes == h2.http2Case($0).bytes })
    }

    /// No generated case names a canary, so canary damage can only come from a server bug.
    @Test func theGeneratorNeverNamesACanary() {
        for seed: UInt64 in 1...3 {
            let h1 = FuzzGenerator(seed: seed, hostPort: "127.0.0.1:1", maxBodyBytes: 1024)
            let h2 = FuzzHTTP2Generator(seed: seed, authority: "127.0.0.1:1", maxBodyBytes: 1024)
            #expect(!(0..<500).contains { FuzzCanaries.mentioned(in: h1.http1Case($0).bytes) })
            #expect(!(0..<200).contains { FuzzCanaries.mentioned(in: h2.http2Case($0).bytes) })
        }
        #expect(FuzzCanaries.mentioned(in: Array("GET /streams/%43anary-x".utf8)))
    }

    /// The HTTP/1 response scanner finds the statuses of pipelined answers behind bodies.
    @Test func theScannerReadsPipelinedAnswers() {
        var scanner = HTTP1ResponseScanner(methods: ["GET", "HEAD", "GET"])
        let wire = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/"
            + "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n"
            + "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        for byte in Array(wire.utf8) { scanner.feed([byte]) }
        #expect(scanner.heads.map(\.status) == [200, 404, 500])
        #expect(!scanner.malformed)
    }

    /// `:status` from HPACK: a static index, and a Huffman-coded literal ("201").
    @Test func hpackStatusIsRead() {
        #expect(HPACKStatus.status(headersPayload: [0x88], flags: 0) == 200)
        #expect(HPACKStatus.status(headersPayload: [0x20, 0x8E], flags: 0) == 500)
        // '2' 00010, '0' 00000, '1' 00001, padding 1s: 0001 0000 0000 0011 → 0x10 0x03
        #expect(HPACKStatus.status(headersPayload: [0x08, 0x82, 0x10, 0x03], flags: 0) == 201)
        #expect(HPACKStatus.status(headersPayload: [0x08, 0x03] + Array("503".utf8), flags: 0) == 503)
    }
}
