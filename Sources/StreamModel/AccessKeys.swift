/// API keys: replicated state, so a key created or revoked on one node holds on every node
/// within one commit (docs/access-control.md). Only a hash of each key's secret is stored.
public struct APIKey: Hashable, Sendable {
    /// 16 lowercase hex digits: the public half of the token, used to look the key up.
    public var id: String
    /// A label for operators (not unique, not secret).
    public var name: String
    /// SHA-256 of the secret half of the token.
    public var secretHash: [UInt8]
    public var scopes: [Scope]
    public var createdAt: Int64
    /// The key's own request and byte rates; a rate left `nil` falls back to the node's
    /// default for keys (`--key-requests-per-second`, `--key-bytes-per-second`).
    public var rates: KeyRates

    public init(id: String, name: String, secretHash: [UInt8], scopes: [Scope], createdAt: Int64,
                rates: KeyRates = KeyRates()) {
        self.id = id
        self.name = name
        self.secretHash = secretHash
        self.scopes = scopes
        self.createdAt = createdAt
        self.rates = rates
    }

    /// Whether `id` has the form the server mints.
    public static func isValidID(_ id: String) -> Bool {
        id.utf8.count == 16 && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// How fast one credential may go: requests per second and bytes per second (request and
/// response bodies), each enforced by every node on its own (docs/access-control.md
/// "Quotas"). `nil` is no rate of its own.
public struct KeyRates: Hashable, Sendable {
    public var requestsPerSecond: UInt64?
    public var bytesPerSecond: UInt64?

    public init(requestsPerSecond: UInt64? = nil, bytesPerSecond: UInt64? = nil) {
        self.requestsPerSecond = requestsPerSecond
        self.bytesPerSecond = bytesPerSecond
    }

    /// These rates, with any left `nil` taken from `defaults`.
    public func orElse(_ defaults: KeyRates) -> KeyRates {
        KeyRates(requestsPerSecond: requestsPerSecond ?? defaults.requestsPerSecond,
                 bytesPerSecond: bytesPerSecond ?? defaults.bytesPerSecond)
    }

    public var isEmpty: Bool { requestsPerSecond == nil && bytesPerSecond == nil }

    /// Whether every rate given is within `KeyLimits` (zero is no rate at all: refused).
    public var isValid: Bool {
        (requestsPerSecond.map { (1...KeyLimits.maxRequestsPerSecond).contains($0) } ?? true)
            && (bytesPerSecond.map { (1...KeyLimits.maxBytesPerSecond).contains($0) } ?? true)
    }
}

/// What a credential may do: `read`, `write` or `admin`, optionally limited to buckets whose
/// names match a pattern (`read:tenant-a`, `write:tenant-*`; `tenant-a/*` is `tenant-a`).
public struct Scope: Hashable, Sendable, CustomStringConvertible {
    public enum Action: String, Hashable, Sendable, CaseIterable {
        case read, write, admin
    }

    public var action: Action
    /// `nil`: every bucket. Otherwise a bucket name in which `*` matches any run of characters.
    public var bucketPattern: String?

    public init(_ action: Action, bucketPattern: String? = nil) {
        self.action = action
        self.bucketPattern = bucketPattern
    }

    /// Parses `action[:pattern]`; `nil` for anything else (and for `admin` with a pattern:
    /// the admin routes are not about buckets).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let action = Action(rawValue: String(parts[0])) else { return nil }
        self.action = action
        guard parts.count == 2 else { return }
        var pattern = String(parts[1])
        if pattern.hasSuffix("/*") { pattern.removeLast(2) }
        guard action != .admin, !pattern.isEmpty, pattern.utf8.count <= 64,
              pattern.utf8.allSatisfy({ Identifiers.isBucketByte($0) || $0 == UInt8(ascii: "*") })
        else { return nil }
        bucketPattern = pattern == "*" ? nil : pattern
    }

    public var description: String { bucketPattern.map { "\(action.rawValue):\($0)" } ?? action.rawValue }

    /// Whether this scope allows `action` on `bucket` (`nil`: a request not about a bucket).
    public func allows(_ action: Action, bucket: String?) -> Bool {
        guard action == self.action else { return false }
        guard let pattern = bucketPattern else { return true }
        guard let bucket else { return false }
        return Self.glob(Array(pattern.utf8)[...], Array(bucket.utf8)[...])
    }

    /// `*` matches any run of bytes; everything else matches itself. Iterative, so a hostile
    /// pattern cannot recurse deeply (patterns are at most 64 bytes).
    static func glob(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        var p = pattern.startIndex, t = text.startIndex
        var star: Int?
        var resume = text.startIndex
        while t < text.endIndex {
            if p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") {
                star = p
                p += 1
                resume = t
            } else if p < pattern.endIndex && pattern[p] == text[t] {
                p += 1
                t += 1
            } else if let s = star {
                p = s + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }
}

/// Bounds on API keys, constants of the replicated state machine.
public enum KeyLimits {
    public static let maxKeys = 10_000
    public static let maxScopesPerKey = 32
    public static let maxNameBytes = 128
    /// The largest per-key rates (a rate above these is no limit worth keeping).
    public static let maxRequestsPerSecond: UInt64 = 1_000_000
    public static let maxBytesPerSecond: UInt64 = 1 << 40
}

extension StreamModel {
    mutating func createKey(_ key: APIKey, effects: inout ApplyEffects) throws(ModelError) -> CommandResult {
        guard APIKey.isValidID(key.id), key.secretHash.count == 32, !key.scopes.isEmpty,
              key.scopes.count <= KeyLimits.maxScopesPerKey, key.name.utf8.count <= KeyLimits.maxNameBytes,
              key.scopes.allSatisfy({ Scope($0.description) == $0 }), key.rates.isValid
        else { throw ModelError(.invalidCommand, "malformed API key") }
        guard apiKeys[key.id] == nil else { throw ModelError(.keyExists, "an API key with id \(key.id) exists") }
        guard apiKeys.count < KeyLimits.maxKeys else {
            throw ModelError(.capacityExhausted, "the cluster holds \(KeyLimits.maxKeys) API keys; revoke some first")
        }
        apiKeys[key.id] = key
        effects.changedKeys.insert(key.id)
        return .keyCreated
    }

    mutating func revokeKey(_ id: String, effects: inout ApplyEffects) throws(ModelError) -> CommandResult {
        guard apiKeys[id] != nil else { throw ModelError(.keyNotFound, "no API key with id \(id)") }
        apiKeys[id] = nil
        effects.changedKeys.insert(id)
        return .keyRevoked
    }

    /// Replaces (or removes) a key in a read-side copy of the model; see `install(_:at:)`.
    public mutating func install(_ key: APIKey?, id: String) {
        apiKeys[id] = key
    }
}
