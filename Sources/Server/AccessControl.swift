import Crypto
import HTTPTypes
import Hummingbird
import NIOCore
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
    /// Rates for API keys without rates of their own, and for each JWT subject
    /// (`--key-requests-per-second`, `--key-bytes-per-second`); none by default.
    public var defaultRates = KeyRates()
    /// Failed authentications a client address may make per second (`--auth-failures-per-second`)
    /// before its uncached JWTs get 429 unchecked, and how many it may make in a burst.
    public var authFailuresPerSecond: Double = 10
    public var authFailureBurst: Double = 100

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
    /// What kind of credential it was (a label of bounded metrics, and the log's word for it).
    enum Kind: String, Sendable, CaseIterable, Hashable {
        case apiKey = "api_key", jwt, adminToken = "admin_token"
    }

    var kind: Kind
    var scopes: [Scope]
    /// Whose rates the request counts against (`key:<id>`, `jwt:<sub>`); nil: no rates.
    var quotaID: String?
    var rates = KeyRates()

    static func adminToken() -> Principal {
        Principal(kind: .adminToken, scopes: Scope.Action.allCases.map { Scope($0) })
    }

    func allows(_ action: Scope.Action, bucket: String?) -> Bool {
        scopes.contains { $0.allows(action, bucket: bucket) }
    }
}

/// API key tokens: `rnl_<16 hex id>_<43 base64url characters of a 32-byte secret>`.
enum APIKeyToken {
    static let prefix = "rnl_"

    /// Whether `token` starts like an API key (compared as bytes: `hasPrefix` on a substring
    /// walks characters, which showed in profiles of the request path).
    static func hasKeyForm(_ token: Substring) -> Bool {
        token.utf8.starts(with: prefix.utf8)
    }

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
        guard utf8.count == 4 + 16 + 1 + 43, hasKeyForm(token), utf8[20] == UInt8(ascii: "_") else { return nil }
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

    /// Each byte's value in `alphabet`, or 0xFF: one lookup per character.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in alphabet.enumerated() { table[Int(character)] = UInt8(value) }
        return table
    }()

    static func decodeBase64URL(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in text {
            let value = values[Int(character)]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }
}

extension RunnelResponder {
    /// Checks the request's credentials against what `route` needs, and the credential's
    /// request rate; throws the 401, 403 or 429. Returns the credential (nil when the route
    /// needs none or authentication is off).
    func authorize(_ request: Request, _ route: Route, connection: any Channel) async throws -> Principal? {
        let access = configuration.access
        guard access.enabled else { return nil }
        let needs = requirements(method: request.method, headers: request.headers, route: route)
        guard !needs.isEmpty else { return nil }
        let address = connection.remoteAddress?.ipAddress ?? "unknown"
        let principal: Principal
        do {
            principal = try await authenticate(request.headers, address: address)
        } catch let error as APIError {
            metrics.recordAuthentication(Self.credentialKind(request.headers), error.status == .tooManyRequests ? .rateLimited : .unauthenticated)
            throw error
        }
        for (action, bucket) in needs where !principal.allows(action, bucket: bucket) {
            metrics.recordAuthentication(principal.kind, .forbidden)
            let scope = bucket.map { "\(action.rawValue):\($0)" } ?? action.rawValue
            var error = APIError(.forbidden, "forbidden", "this credential lacks the \(scope) scope")
            error.headers[.wwwAuthenticate] = "Bearer realm=\"runnel\", error=\"insufficient_scope\", scope=\"\(scope)\""
            throw error
        }
        if let id = principal.quotaID, !principal.rates.isEmpty,
           let refusal = quotas.rates.admit(id, principal.rates, now: Self.monotonicNow()) {
            metrics.recordAuthentication(principal.kind, .rateLimited)
            switch refusal {
            case .requestRate(let seconds):
                throw APIError.tooManyRequests("request_rate_exceeded", "this credential's request rate (\(principal.rates.requestsPerSecond ?? 0)/s) is used up", retryAfter: seconds)
            case .byteRate(let seconds):
                throw APIError.tooManyRequests("byte_rate_exceeded", "this credential's byte rate (\(principal.rates.bytesPerSecond ?? 0) B/s) is used up", retryAfter: seconds)
            }
        }
        metrics.recordAuthentication(principal.kind, .allowed)
        return principal
    }

    static func monotonicNow() -> Int64 { Int64(clamping: MonotonicClock.continuous.nanoseconds()) }

    /// The kind of credential a request's `Authorization` header seems to carry, by its form
    /// alone (for the metrics of refused requests): nil when there is no bearer token.
    static func credentialKind(_ headers: HTTPFields) -> Principal.Kind? {
        guard let value = headers[.authorization], let token = Self.bearerToken(value) else { return nil }
        if APIKeyToken.hasKeyForm(token) { return .apiKey }
        return JWTAuthenticator.looksLikeJWT(token) ? .jwt : .adminToken
    }

    /// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive);
    /// nil for any other scheme or an empty token.
    static func bearerToken(_ value: String) -> Substring? {
        var utf8 = value.utf8[...]
        for expected in "bearer ".utf8 {
            guard let byte = utf8.popFirst(), byte == expected || (expected != UInt8(ascii: " ") && byte | 0x20 == expected) else { return nil }
        }
        while utf8.first == UInt8(ascii: " ") { utf8.removeFirst() }
        let token = Substring(utf8)
        return token.isEmpty ? nil : token
    }

    /// The principal of the request's bearer token, or the 401 (the 429 of an address that
    /// failed too often, for a JWT that would need a signature check).
    private func authenticate(_ headers: HTTPFields, address: String) async throws -> Principal {
        let values = headers[values: .authorization]
        guard values.count == 1, let value = values.first else {
            throw unauthorized(values.isEmpty ? nil : "send one Authorization header")
        }
        guard let token = Self.bearerToken(value) else {
            throw unauthorized("the Authorization scheme must be Bearer")
        }
        let failures = quotas.failures
        // Told apart by form, so each request pays for one check: an API key, a JWT, or the
        // admin token (which may have neither form; see `AccessConfiguration.isUsableAdminToken`).
        if APIKeyToken.hasKeyForm(token) {
            guard let principal = apiKeyPrincipal(token) else {
                failures.failed(address, now: Self.monotonicNow())
                throw unauthorized("the API key is not valid (unknown or revoked)")
            }
            return principal
        }
        if let jwt = configuration.access.jwt, JWTAuthenticator.looksLikeJWT(token) {
            let text = String(token)
            var identity = jwt.cached(text)
            if identity == nil {
                if let seconds = failures.blocked(address, now: Self.monotonicNow()) {
                    throw APIError.tooManyRequests("too_many_auth_failures", "too many failed authentications from this address", retryAfter: seconds)
                }
                identity = await jwt.verify(text)
            }
            guard let identity else {
                failures.failed(address, now: Self.monotonicNow())
                throw unauthorized("the JWT is not valid (signature, exp, nbf, iss or aud)")
            }
            return jwtPrincipal(identity, token: text)
        }
        guard let principal = adminPrincipal(token) else {
            failures.failed(address, now: Self.monotonicNow())
            throw unauthorized("the token is not valid")
        }
        return principal
    }

    /// The principal of an API key token; nil when it is not a valid key. A token seen before
    /// skips the parse and the hash; the key is looked up every time, so a revocation holds at
    /// once.
    private func apiKeyPrincipal(_ token: Substring) -> Principal? {
        let text = String(token)
        let known = quotas.keyTokens.withLock { $0[text] }
        let parsed = known ?? APIKeyToken.parse(token).map { (id: $0.id, secretHash: APIKeyToken.hash($0.secret)) }
        guard let parsed, let key = store.apiKey(id: parsed.id), APIKeyToken.equal(parsed.secretHash, key.secretHash) else {
            return nil
        }
        if known == nil {
            quotas.keyTokens.withLock { tokens in
                if tokens.count >= RequestQuotas.maxKeyTokens { tokens.removeAll(keepingCapacity: true) }
                tokens[text] = parsed
            }
        }
        let rates = key.rates.orElse(configuration.access.defaultRates)
        return Principal(kind: .apiKey, scopes: key.scopes, quotaID: rates.isEmpty ? nil : "key:" + key.id, rates: rates)
    }

    /// The principal of a verified JWT. Rates count per subject; a token without one counts
    /// on its own.
    private func jwtPrincipal(_ identity: JWTAuthenticator.Identity, token: String) -> Principal {
        let subject = identity.subject.flatMap { $0.utf8.count <= 256 ? $0 : nil }
            ?? SnapshotDigest.hex(Array(APIKeyToken.hash(Array(token.utf8)).prefix(16)))
        return Principal(kind: .jwt, scopes: identity.scopes, quotaID: "jwt:" + subject, rates: configuration.access.defaultRates)
    }

    /// The bootstrap admin token's principal; nil for any other token.
    private func adminPrincipal(_ token: Substring) -> Principal? {
        guard let hash = configuration.access.adminTokenHash, APIKeyToken.equal(APIKeyToken.hash(Array(token.utf8)), hash) else {
            return nil
        }
        return .adminToken()
    }

    /// What a request on an event loop may do without a task (`AppendFastPath`).
    enum ImmediateAuthorization {
        /// Nothing to check (authentication off, or a route that needs no credential).
        case open
        /// A valid credential with the scopes, within its request rate (a token taken).
        case allowed(Principal)
        /// Anything else goes the async way, which gives the exact answer (401, 403, 429) and
        /// counts it; nothing was counted or taken here.
        case slowPath
    }

    /// `authorize` for credentials that can be checked at once: API keys, the admin token,
    /// cached JWTs. A refusal, an uncached JWT or a byte rate (whose bodies are metered by the
    /// async path) is `.slowPath`.
    func authorizeNow(method: HTTPRequest.Method, headers: HTTPFields, route: Route) -> ImmediateAuthorization {
        guard configuration.access.enabled else { return .open }
        let needs = requirements(method: method, headers: headers, route: route)
        guard !needs.isEmpty else { return .open }
        let values = headers[values: .authorization]
        guard values.count == 1, let value = values.first, let token = Self.bearerToken(value) else { return .slowPath }
        var principal: Principal?
        if APIKeyToken.hasKeyForm(token) {
            principal = apiKeyPrincipal(token)
        } else if let jwt = configuration.access.jwt, JWTAuthenticator.looksLikeJWT(token) {
            let text = String(token)
            principal = jwt.cached(text).map { jwtPrincipal($0, token: text) }
        } else {
            principal = adminPrincipal(token)
        }
        guard let principal, principal.rates.bytesPerSecond == nil,
              needs.allSatisfy({ principal.allows($0.0, bucket: $0.1) })
        else { return .slowPath }
        if let id = principal.quotaID, !principal.rates.isEmpty,
           quotas.rates.admit(id, principal.rates, now: Self.monotonicNow()) != nil {
            return .slowPath
        }
        metrics.recordAuthentication(principal.kind, .allowed)
        return .allowed(principal)
    }

    private func unauthorized(_ problem: String?) -> APIError {
        var error = APIError(.unauthorized, problem == nil ? "unauthorized" : "invalid_token",
                             problem ?? "send Authorization: Bearer <token>")
        error.headers[.wwwAuthenticate] = problem == nil ? "Bearer realm=\"runnel\"" : "Bearer realm=\"runnel\", error=\"invalid_token\""
        return error
    }

    /// The scopes a request needs: reads need `read` on their bucket, writes `write` (a fork
    /// also `read` on its source's bucket), admin routes `admin`; health checks nothing.
    func requirements(method: HTTPRequest.Method, headers: HTTPFields, route: Route) -> [(Scope.Action, String?)] {
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
            if method == .put, let source = headers[.streamForkedFrom],
               case .stream(_, let sourcePath) = Route(path: source) {
                needs.append((.read, sourcePath.bucket))
            }
            return needs
        }
    }
}
