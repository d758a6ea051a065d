import Crypto
import Foundation
import JWTKit
import StreamModel
import Synchronization

/// JWT bearer tokens verified against configured keys (docs/access-control.md): an HS256
/// secret and/or a JWKS (RS256, ES256, EdDSA, …), with expiry (required), not-before, issuer
/// and audience checked within a clock-skew bound. Scopes come from the `scope` claim,
/// space-separated, in Runnel's syntax (`read:tenant-a write:tenant-a`).
///
/// Signature verification is done by vapor/jwt-kit (no cryptography here). A verified token
/// is remembered until it expires, so a client that sends the same token on every request
/// pays for one verification, not one per request.
public final class JWTAuthenticator: Sendable {
    /// What a token must say besides a valid signature.
    public struct Rules: Sendable {
        public var issuer: String?
        public var audience: String?
        /// Seconds of clock skew allowed on `exp` and `nbf`.
        public var leeway: Double = 60

        public init(issuer: String? = nil, audience: String? = nil, leeway: Double = 60) {
            self.issuer = issuer
            self.audience = audience
            self.leeway = leeway
        }
    }

    /// The claims Runnel reads. `exp` is required: a token that never expires is refused.
    struct Claims: JWTPayload {
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        var sub: SubjectClaim?
        var scope: String?

        /// Claims are checked by `JWTAuthenticator.check`, which knows the configured rules.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    private let keys: JWTKeyCollection
    private let rules: Rules
    /// Verified tokens and when they stop being valid. Bounded: emptied when full.
    private let cache = Mutex<[String: (identity: Identity, until: Date)]>([:])
    static let cacheLimit = 10_000

    /// Loads the keys: an HMAC secret for HS256 and/or a JWKS document. Throws on unusable keys.
    public static func make(hmacSecret: [UInt8]?, jwksJSON: String?, rules: Rules) async throws -> JWTAuthenticator {
        let keys = JWTKeyCollection()
        if let hmacSecret { await keys.add(hmac: HMACKey(key: SymmetricKey(data: hmacSecret)), digestAlgorithm: .sha256) }
        if let jwksJSON { try await keys.add(jwksJSON: jwksJSON) }
        return JWTAuthenticator(keys: keys, rules: rules)
    }

    private init(keys: JWTKeyCollection, rules: Rules) {
        self.keys = keys
        self.rules = rules
    }

    /// Whether `token` has the shape of a JWT (three base64url parts).
    static func looksLikeJWT(_ token: Substring) -> Bool {
        token.utf8.count(where: { $0 == UInt8(ascii: ".") }) == 2 && token.utf8.count <= 8192
    }

    /// What a valid token says: its scopes, and whose rates it counts against.
    struct Identity: Sendable {
        var scopes: [Scope]
        /// The `sub` claim, when present.
        var subject: String?
    }

    /// A token verified before and not expired since: no signature check.
    func cached(_ token: String, now: Date = Date()) -> Identity? {
        cache.withLock { cache in
            guard let hit = cache[token] else { return nil }
            if hit.until > now { return hit.identity }
            cache.removeValue(forKey: token)
            return nil
        }
    }

    /// The identity of a valid token; `nil` for an invalid, expired, not-yet-valid, foreign or
    /// unsigned (`alg: none`) one.
    func verify(_ token: String, now: Date = Date()) async -> Identity? {
        if let hit = cached(token, now: now) { return hit }
        guard let claims = try? await keys.verify(token, as: Claims.self), let scopes = check(claims, now: now) else {
            return nil
        }
        let identity = Identity(scopes: scopes, subject: claims.sub?.value)
        let until = claims.exp.value.addingTimeInterval(rules.leeway)
        cache.withLock { cache in
            if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[token] = (identity, until)
        }
        return identity
    }

    /// The configured rules applied to verified claims; the token's scopes if they hold.
    func check(_ claims: Claims, now: Date) -> [Scope]? {
        guard now.addingTimeInterval(-rules.leeway) < claims.exp.value else { return nil }
        if let nbf = claims.nbf, now.addingTimeInterval(rules.leeway) < nbf.value { return nil }
        if let issuer = rules.issuer, claims.iss?.value != issuer { return nil }
        if let audience = rules.audience {
            guard let aud = claims.aud, (try? aud.verifyIntendedAudience(includes: audience)) != nil else { return nil }
        }
        var scopes: [Scope] = []
        for text in (claims.scope ?? "").split(separator: " ") {
            // An unknown scope grants nothing, rather than refusing the whole token.
            if let scope = Scope(String(text)), !scopes.contains(scope) { scopes.append(scope) }
        }
        return scopes
    }
}
