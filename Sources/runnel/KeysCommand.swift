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
        @Option(help: "A label for the key.")
        var name: String = ""

        func run() async throws {
            guard !scopes.isEmpty else { throw ValidationError("give at least one --scope") }
            let body = "{\"name\":\(ClusterCommand.quote(name)),\"scopes\":[\(scopes.map(ClusterCommand.quote).joined(separator: ","))]}"
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
                print("\(key["id"] as? String ?? "?")  \(key["created_at"] as? String ?? "")  \(scopes)  \(key["name"] as? String ?? "")")
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
