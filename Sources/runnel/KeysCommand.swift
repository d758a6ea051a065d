import ArgumentParser
import Foundation

/// `runnel keys create|list|revoke --url URL --token ADMIN` (docs/access-control.md): API keys
/// are replicated state, managed through any node's admin API.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Create, list and revoke API keys.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print its token (shown once; only its hash is stored).")
        @OptionGroup var connection: ClusterCommand.Connection
        @Option(name: .customLong("scope"), help: "read, write or admin, optionally :bucket-pattern (read:tenant-a, write:tenant-*); repeat for more.")
        var scopes: [String] = []
        @Option(name: .customLong("bucket"), help: "Limit every --scope given without a pattern (read, write) to this bucket pattern (tenant-a, tenant-*); repeat for more.")
        var buckets: [String] = []
        @Option(help: "A label for the key.")
        var name: String = ""
        @Option(help: "Requests per second this key may make on each node (default: the node's --key-requests-per-second).")
        var requestsPerSecond: UInt64?
        @Option(help: "Body bytes per second (sent and received) this key may move through each node (default: the node's --key-bytes-per-second).")
        var bytesPerSecond: UInt64?

        /// The scopes to ask for: `--scope`s with a pattern as given, the others once per `--bucket`.
        var requestedScopes: [String] {
            scopes.flatMap { scope in
                scope.contains(":") || buckets.isEmpty || scope == "admin" ? [scope] : buckets.map { "\(scope):\($0)" }
            }
        }

        func run() async throws {
            guard !scopes.isEmpty else { throw ValidationError("give at least one --scope") }
            var body = "{\"name\":\(ClusterCommand.quote(name)),\"scopes\":[\(requestedScopes.map(ClusterCommand.quote).joined(separator: ","))]"
            if let requestsPerSecond { body += ",\"requests_per_second\":\(requestsPerSecond)" }
            if let bytesPerSecond { body += ",\"bytes_per_second\":\(bytesPerSecond)" }
            body += "}"
            let answer = try await ClusterCommand.send(connection, .POST, "/admin/v1/keys", json: body)
            guard let doc = answer.json, let token = doc["token"] as? String, let id = doc["id"] as? String else {
                throw ClusterCommand.failure("unexpected answer: \(answer.body)")
            }
            print("id:    \(id)\ntoken: \(token)\n(the token is not shown again)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (ids, names, scopes; never tokens).")
        @OptionGroup var connection: ClusterCommand.Connection

        func run() async throws {
            let answer = try await ClusterCommand.send(connection, .GET, "/admin/v1/keys")
            let keys = answer.json?["keys"] as? [[String: Any]] ?? []
            for key in keys {
                let scopes = (key["scopes"] as? [String] ?? []).joined(separator: " ")
                var rates = ""
                if let value = key["requests_per_second"] as? Int { rates += "  \(value) req/s" }
                if let value = key["bytes_per_second"] as? Int { rates += "  \(value) B/s" }
                print("\(key["id"] as? String ?? "?")  \(key["created_at"] as? String ?? "")  \(scopes)\(rates)  \(key["name"] as? String ?? "")")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key on every node (one commit).")
        @OptionGroup var connection: ClusterCommand.Connection
        @Argument(help: "The key's id.")
        var id: String

        func run() async throws {
            _ = try await ClusterCommand.send(connection, .DELETE, "/admin/v1/keys/\(id)")
            print("revoked \(id)")
        }
    }
}
