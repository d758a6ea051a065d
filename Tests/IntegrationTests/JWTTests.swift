import Foundation
import JWTKit
import RunnelTesting
import Testing

/// JWT bearer tokens over real HTTP (docs/access-control.md): HS256 and a JWKS (ES256), with
/// expiry, not-before, issuer and audience checked, `alg: none` and foreign signatures refused.
@Suite struct JWTTests {
    struct Claims: JWTPayload {
        var exp: ExpirationClaim?
        var nbf: NotBeforeClaim?
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        var sub: SubjectClaim?
        var scope: String?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static let secret = "jwt-secret-for-tests-0123456789abcdefghijklmnop"

    static func claims(scope: String? = "read:ta write:ta", exp: TimeInterval? = 300, nbf: TimeInterval? = nil,
                       iss: String? = "runnel-tests", aud: String? = "streams") -> Claims {
        Claims(exp: exp.map { ExpirationClaim(value: Date().addingTimeInterval($0)) },
               nbf: nbf.map { NotBeforeClaim(value: Date().addingTimeInterval($0)) },
               iss: iss.map { IssuerClaim(value: $0) }, aud: aud.map { AudienceClaim(value: [$0]) },
               sub: SubjectClaim(value: "test"), scope: scope)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test func tokensAreCheckedAndTheirScopesApply() async throws {
        let dir = RunnelProcess.temporaryDirectory("jwt")
        try FileManager.default.createDirectory(atPath: dir + "-keys", withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: dir + "-keys")
        }
        // An HS256 secret and a JWKS holding one ES256 public key.
        let secretFile = dir + "-keys/secret"
        try (Self.secret + "\n").write(toFile: secretFile, atomically: true, encoding: .utf8)
        let ecKey = ES256PrivateKey()
        let (x, y) = try #require(ecKey.parameters)
        let jwksFile = dir + "-keys/jwks.json"
        try "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"\(x)\",\"y\":\"\(y)\",\"kid\":\"ec1\",\"alg\":\"ES256\",\"use\":\"sig\"}]}"
            .write(toFile: jwksFile, atomically: true, encoding: .utf8)
        let node = RunnelProcess(dataDirectory: dir, arguments: [
            "--jwt-hs256-secret-file", secretFile, "--jwt-jwks-file", jwksFile,
            "--jwt-issuer", "runnel-tests", "--jwt-audience", "streams", "--jwt-leeway", "5",
            "--admin-token-file", try AccessControlTests.tokenFile(),
        ])
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        #expect(try await client.request("PUT", "/ds/ta", headers: AccessControlTests.bearer(AccessControlTests.adminToken)).status == 201)

        let hs = JWTKeyCollection()
        await hs.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        let es = JWTKeyCollection()
        await es.add(ecdsa: ecKey, kid: "ec1")
        let other = JWTKeyCollection()
        await other.add(hmac: HMACKey(from: "another-secret-entirely-0123456789abcdef"), digestAlgorithm: .sha256)

        func status(_ token: String, _ method: String = "GET", _ path: String = "/ds/ta/s?offset=-1") async throws -> Int {
            try await client.request(method, path, headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "text/plain")],
                                     body: method == "POST" ? Array("x".utf8) : []).status
        }

        let good = try await hs.sign(Self.claims())
        #expect(try await status(good, "PUT", "/ds/ta/s") == 201)
        #expect(try await status(good, "POST", "/ds/ta/s") == 204)
        #expect(try await status(good) == 200)
        #expect(try await status(good) == 200, "the second use is answered from the cache")
        let fromJWKS = try await es.sign(Self.claims(scope: "read:ta"), kid: "ec1")
        #expect(try await status(fromJWKS) == 200)
        #expect(try await status(fromJWKS, "POST", "/ds/ta/s") == 403)
        #expect(try await status(good, "GET", "/admin/v1/cluster") == 403)
        #expect(try await status(try await hs.sign(Self.claims(scope: "admin")), "GET", "/admin/v1/cluster") == 200)

        // Refused: expired, not yet valid, wrong audience or issuer, no expiry, a foreign
        // signature, and an unsigned token.
        for (label, token) in [
            ("expired", try await hs.sign(Self.claims(exp: -60))),
            ("not yet valid", try await hs.sign(Self.claims(nbf: 120))),
            ("wrong audience", try await hs.sign(Self.claims(aud: "elsewhere"))),
            ("wrong issuer", try await hs.sign(Self.claims(iss: "someone-else"))),
            ("no expiry", try await hs.sign(Self.claims(exp: nil))),
            ("foreign signature", try await other.sign(Self.claims())),
            ("alg none", Self.base64URL(Data("{\"alg\":\"none\",\"typ\":\"JWT\"}".utf8)) + "."
                + Self.base64URL(try JSONEncoder().encode(Self.claims())) + "."),
            ("tampered", String(good.dropLast(2)) + (good.hasSuffix("AA") ? "BB" : "AA")),
        ] {
            let r = try await client.request("GET", "/ds/ta/s?offset=-1", headers: [("Authorization", "Bearer \(token)")])
            #expect(r.status == 401 && AccessControlTests.errorCode(r) == "invalid_token", "\(label): \(r.status)")
        }
        // Within the leeway, an expired token still passes (clock skew).
        #expect(try await status(try await hs.sign(Self.claims(exp: -2))) == 200)
        await client.close()
    }
}
