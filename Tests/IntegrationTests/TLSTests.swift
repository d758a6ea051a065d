import Foundation
import RunnelTesting
import Testing

/// HTTPS built in (`--tls-cert`, `--tls-key`), with a throwaway certificate made by the test.
@Suite(.serialized) struct TLSTests {
    @Test func servesTheProtocolOverHTTPS() async throws {
        let dir = RunnelProcess.temporaryDirectory("tls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (cert, key) = try TestCertificate.selfSigned(in: dir + "-certs")
        defer { try? FileManager.default.removeItem(atPath: dir + "-certs") }
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--tls-cert", cert, "--tls-key", key])
        try await node.start()
        defer { node.terminate() }

        let client = try await HTTPTestClient(port: node.port, trustRoot: cert)
        let created = try await client.request("PUT", "/v1/stream/secure", headers: [("Content-Type", "text/plain")], body: Array("a".utf8))
        #expect(created.status == 201)
        #expect(created.header("Location")?.hasPrefix("https://") == true)
        let appended = try await client.request("POST", "/ds/_default/secure", headers: [("Content-Type", "text/plain")], body: Array("b".utf8))
        #expect(appended.status == 204)
        let read = try await client.request("GET", "/streams/secure?offset=-1")
        #expect(read.status == 200)
        #expect(read.text == "ab")
        await client.close()

        // A client that does not trust the certificate cannot talk to the node.
        await #expect(throws: (any Error).self) {
            let untrusted = try await HTTPTestClient(port: node.port, trustRoot: "/etc/ssl/certs/ca-certificates.crt")
            _ = try await untrusted.request("GET", "/healthz")
        }
    }

    @Test func aMissingCertificateStopsStartupWithAClearMessage() async throws {
        let dir = RunnelProcess.temporaryDirectory("badtls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir, arguments: ["--tls-cert", dir + "/missing.pem", "--tls-key", dir + "/missing.key"])
        let error = await #expect(throws: HTTPTestClient.ClientError.self) { try await node.start(timeout: .seconds(20)) }
        #expect(error?.description.contains("cannot load TLS certificate") == true)
        #expect(!FileManager.default.fileExists(atPath: dir), "no data may be opened with a bad configuration")
    }
}
