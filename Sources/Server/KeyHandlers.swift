import Foundation
import HTTPTypes
import Hummingbird
import StreamModel

/// `GET|POST /admin/v1/keys`, `DELETE /admin/v1/keys/{id}` (docs/access-control.md).
extension RunnelResponder {
    /// The body of `POST /admin/v1/keys`.
    private struct CreateKeyBody: Decodable {
        var name: String?
        var scopes: [String]
        var requestsPerSecond: UInt64?
        var bytesPerSecond: UInt64?

        enum CodingKeys: String, CodingKey {
            case name, scopes
            case requestsPerSecond = "requests_per_second"
            case bytesPerSecond = "bytes_per_second"
        }
    }

    /// Mints a key, replicates its hash, and answers the token: the only time it is shown.
    func createKey(_ request: Request) async throws -> Response {
        let body = try await readBody(request)
        let parsed: CreateKeyBody
        do { parsed = try JSONDecoder().decode(CreateKeyBody.self, from: Data(body)) } catch {
            throw APIError.badRequest("invalid_body", "expected {\"name\": \"…\", \"scopes\": [\"read:bucket\", \"write\", …], \"requests_per_second\": n, \"bytes_per_second\": n}")
        }
        let rates = KeyRates(requestsPerSecond: parsed.requestsPerSecond, bytesPerSecond: parsed.bytesPerSecond)
        guard rates.isValid else {
            throw APIError.badRequest("invalid_rate", "requests_per_second is 1 to \(KeyLimits.maxRequestsPerSecond), bytes_per_second 1 to \(KeyLimits.maxBytesPerSecond)")
        }
        let name = parsed.name ?? ""
        guard name.utf8.count <= KeyLimits.maxNameBytes, HeaderText.isClean(name) else {
            throw APIError.badRequest("invalid_key_name", "a key name is at most \(KeyLimits.maxNameBytes) bytes of printable text")
        }
        var scopes: [Scope] = []
        for text in parsed.scopes {
            guard let scope = Scope(text) else {
                throw APIError.badRequest("invalid_scope", "\(text) is not read|write|admin, optionally :bucket-pattern (not for admin)")
            }
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        guard !scopes.isEmpty, scopes.count <= KeyLimits.maxScopesPerKey else {
            throw APIError.badRequest("invalid_scope", "a key needs 1 to \(KeyLimits.maxScopesPerKey) scopes")
        }
        let minted = APIKeyToken.mint()
        let key = APIKey(id: minted.id, name: name, secretHash: APIKeyToken.hash(minted.secret), scopes: scopes, createdAt: now(),
                         rates: rates)
        _ = try await propose(.createKey(key))
        return json(.created, "{\"id\":\"\(key.id)\",\"token\":\"\(minted.token)\"," + Self.fields(of: key) + "}")
    }

    /// A key's public fields as JSON members (never its secret or hash).
    private static func fields(of key: APIKey) -> String {
        var text = "\"name\":\(JSONText.quote(key.name))"
            + ",\"scopes\":[\(key.scopes.map { JSONText.quote($0.description) }.joined(separator: ","))]"
            + ",\"created_at\":\(JSONText.quote(RFC3339.format(key.createdAt)))"
        if let rate = key.rates.requestsPerSecond { text += ",\"requests_per_second\":\(rate)" }
        if let rate = key.rates.bytesPerSecond { text += ",\"bytes_per_second\":\(rate)" }
        return text
    }

    /// Every key without its secret.
    func listKeys() -> Response {
        let keys = store.apiKeys.map { key in "{\"id\":\"\(key.id)\"," + Self.fields(of: key) + "}" }
        return json(.ok, "{\"keys\":[\(keys.joined(separator: ","))]}")
    }
}
