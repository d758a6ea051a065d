import Crypto
import HTTPTypes
import Hummingbird
import Replication
import StreamModel

/// Who may do what (docs/access-control.md). Authentication is on as soon as the node has a
/// credential source (the bootstrap admin token); then every route but `/healthz`, `/readyz`
/// and preflights needs `Authorization: Bearer <token>` whose scopes allow it.
public struct AccessConfiguration: Sendable {
    /// SHA-256 of the bootstrap admin token (`--admin-token-file`, `RUNNEL_ADMIN_TOKEN`): a
    /// credential with every scope, to create the first API keys with.
    public var adminTokenHash: [UInt8]?
    /// The scope `/metrics` needs when authentication is on; `nil` leaves it open.
    public var metricsScope: Scope.Action? = .admin
    /// JWT bearer tokens, when keys are configured (`--jwt-hs256-secret-file`, `--jwt-jwks-file`).
    public var jwt: JWTAuthenticator?

    public init() {}

    /// Whether requests must carry credentials.
    public var enabled: Bool { adminTokenHash != nil || jwt != nil }

    /// The smallest bootstrap admin token accepted, in bytes (a guessable one is no lock).
    public static let minimumTokenBytes = 32

    /// Whether `token` can serve as the bootstrap admin token: long enough, printable ASCII
    /// without spaces, and not of the form of an API key or a JWT (which are told apart from
    /// it by form).
    public static func isUsableAdminToken(_ token: String) -> Bool {
        token.utf8.count >= minimumTokenBytes && token.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
            && !token.hasPrefix(APIKeyToken.prefix) && !JWTAuthenticator.looksLikeJWT(Substring(token))
    }

    /// What is kept of a bootstrap admin token: its SHA-256.
    public static func hash(token: String) -> [UInt8] { APIKeyToken.hash(Array(token.utf8)) }
}

/// The credential a request carried, once verified.
struct Principal: Sendable {
    /// `"admin-token"` or the API key's id (for logs and metrics of a bounded set of classes).
    var id: String
    var scopes: [Scope]

    static func adminToken() -> Principal {
        Principal(id: "admin-token", scopes: Scope.Action.allCases.map { Scope($0) })
    }

    func allows(_ action: Scope.Action, bucket: String?) -> Bool {
        scopes.contains { $0.allows(action, bucket: bucket) }
    }
}

/// API key tokens: `rnl_<16 hex id>_<43 base64url characters of a 32-byte secret>`.
enum APIKeyToken {
    static let prefix = "rnl_"

    /// A new key's id, secret and token (randomness from the system generator).
    static func mint() -> (id: String, secret: [UInt8], token: String) {
        var generator = SystemRandomNumberGenerator()
        let idBytes = (0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let id = SnapshotDigest.hex(idBytes)
        return (id, secret, prefix + id + "_" + base64URL(secret))
    }

    /// The id and secret of a token of the minted form; `nil` for anything else.
    static func parse(_ token: Substring) -> (id: String, secret: [UInt8])? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 4 + 16 + 1 + 43, token.hasPrefix(prefix), utf8[20] == UInt8(ascii: "_") else { return nil }
        let id = String(decoding: utf8[4..<20], as: UTF8.self)
        guard APIKey.isValidID(id), let secret = decodeBase64URL(utf8[21...]), secret.count == 32 else { return nil }
        return (id, secret)
    }

    static func hash(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    /// Equal digests, compared in time independent of where they differ.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func base64URL(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b0 = Int(bytes[i]), b1 = i + 1 < bytes.count ? Int(bytes[i + 1]) : 0, b2 = i + 2 < bytes.count ? Int(bytes[i + 2]) : 0
            out.append(alphabet[b0 >> 2])
            out.append(alphabet[(b0 & 3) << 4 | b1 >> 4])
            if i + 1 < bytes.count { out.append(alphabet[(b1 & 15) << 2 | b2 >> 6]) }
            if i + 2 < bytes.count { out.append(alphabet[b2 & 63]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decodeBase64URL(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var values: [Int] = []
        for c in text {
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            values.append(v)
        }
        guard values.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < values.count {
            let n = min(4, values.count - i)
            let v0 = values[i], v1 = values[i + 1], v2 = n > 2 ? values[i + 2] : 0, v3 = n > 3 ? values[i + 3] : 0
            out.append(UInt8((v0 << 2 | v1 >> 4) & 0xFF))
            if n > 2 { out.append(UInt8((v1 << 4 | v2 >> 2) & 0xFF)) }
            if n > 3 { out.append(UInt8((v2 << 6 | v3) & 0xFF)) }
            i += 4
        }
        return out
    }
}

extension RunnelResponder {
    /// Checks the request's credentials against what `route` needs; throws the 401 or 403.
    func authorize(_ request: Request, _ route: Route) async throws {
        let access = configuration.access
        guard access.enabled else { return }
        let needs = requirements(request, route)
        guard !needs.isEmpty else { return }
        let principal = try await authenticate(request.headers)
        for (action, bucket) in needs where !principal.allows(action, bucket: bucket) {
            let scope = bucket.map { "\(action.rawValue):\($0)" } ?? action.rawValue
            var error = APIError(.forbidden, "forbidden", "this credential lacks the \(scope) scope")
            error.headers[.wwwAuthenticate] = "Bearer realm=\"runnel\", error=\"insufficient_scope\", scope=\"\(scope)\""
            throw error
        }
    }

    /// The principal of the request's bearer token, or the 401.
    private func authenticate(_ headers: HTTPFields) async throws -> Principal {
        let values = headers[values: .authorization]
        guard values.count == 1, let value = values.first else {
            throw unauthorized(values.isEmpty ? nil : "send one Authorization header")
        }
        guard value.count > 7, value.prefix(7).lowercased() == "bearer " else {
            throw unauthorized("the Authorization scheme must be Bearer")
        }
        let token = value.dropFirst(7).drop { $0 == " " }
        // Told apart by form, so each request pays for one check: an API key, a JWT, or the
        // admin token (which may have neither form; see `AccessConfiguration.isUsableAdminToken`).
        if let (id, secret) = APIKeyToken.parse(token) {
            guard let key = store.apiKey(id: id), APIKeyToken.equal(APIKeyToken.hash(secret), key.secretHash) else {
                throw unauthorized("the API key is not valid (unknown or revoked)")
            }
            return Principal(id: id, scopes: key.scopes)
        }
        if let jwt = configuration.access.jwt, JWTAuthenticator.looksLikeJWT(token) {
            guard let scopes = await jwt.scopes(of: String(token)) else {
                throw unauthorized("the JWT is not valid (signature, exp, nbf, iss or aud)")
            }
            return Principal(id: "jwt", scopes: scopes)
        }
        guard let hash = configuration.access.adminTokenHash, APIKeyToken.equal(APIKeyToken.hash(Array(token.utf8)), hash) else {
            throw unauthorized("the token is not valid")
        }
        return .adminToken()
    }

    private func unauthorized(_ problem: String?) -> APIError {
        var error = APIError(.unauthorized, problem == nil ? "unauthorized" : "invalid_token",
                             problem ?? "send Authorization: Bearer <token>")
        error.headers[.wwwAuthenticate] = problem == nil ? "Bearer realm=\"runnel\"" : "Bearer realm=\"runnel\", error=\"invalid_token\""
        return error
    }

    /// The scopes a request needs: reads need `read` on their bucket, writes `write` (a fork
    /// also `read` on its source's bucket), admin routes `admin`; health checks nothing.
    func requirements(_ request: Request, _ route: Route) -> [(Scope.Action, String?)] {
        let method = request.method
        let reads = method == .get || method == .head
        switch route {
        case .health, .ready, .invalid, .notFound:
            return []
        case .metrics:
            return configuration.access.metricsScope.map { [($0, nil)] } ?? []
        case .admin:
            return [(.admin, nil)]
        case .bucket(let name), .bucketStreams(let name):
            return [(reads ? .read : .write, name)]
        case .streamResource(let path, _):
            return [(reads ? .read : .write, path.bucket)]
        case .stream(_, let path):
            var needs: [(Scope.Action, String?)] = [(reads ? .read : .write, path.bucket)]
            if method == .put, let source = request.headers[.streamForkedFrom],
               case .stream(_, let sourcePath) = Route(path: source) {
                needs.append((.read, sourcePath.bucket))
            }
            return needs
        }
    }
}
