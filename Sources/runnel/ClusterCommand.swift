import ArgumentParser
import Foundation
import NIOHTTP1

/// `runnel cluster status|add|remove|transfer-leader --url URL` (api.md §4): the operator's
/// view of the admin API (api.md §3). Exits non-zero with the server's error message when a
/// request is refused.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Inspect and change a cluster's membership.",
        subcommands: [Status.self, Add.self, Remove.self, TransferLeader.self])

    /// The `--token` of a joining node: its own admin token, or `RUNNEL_TOKEN`.
    static func joinToken(adminTokenFile: String?) -> String? {
        if let adminTokenFile, let text = try? String(contentsOfFile: adminTokenFile, encoding: .utf8) {
            return text.trimmingCharacters(in: .newlines)
        }
        return ProcessInfo.processInfo.environment["RUNNEL_ADMIN_TOKEN"] ?? ProcessInfo.processInfo.environment["RUNNEL_TOKEN"]
    }

    /// Flags every subcommand shares.
    struct Connection: ParsableArguments {
        @Option(help: "Base URL of any node, e.g. http://127.0.0.1:4437 (env RUNNEL_URL).")
        var url: String?

        @Option(help: "PEM file of the CA certificates to trust for an https:// URL.")
        var caFile: String?

        @Option(help: "Bearer token with the admin scope, when the cluster has authentication on (env RUNNEL_TOKEN).")
        var token: String?

        func client() throws -> AdminClient {
            guard let url = Env.value(url, "RUNNEL_URL") else { throw ValidationError("--url is required") }
            return try AdminClient(url: url, caFile: caFile, token: Env.value(token, "RUNNEL_TOKEN"))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the node's view of the cluster: role, leader, members.")
        @OptionGroup var connection: Connection
        @Flag(help: "Print the raw JSON document.")
        var json = false

        func run() async throws {
            let answer = try await ClusterCommand.send(connection, .GET, "/admin/v1/cluster")
            if json { return print(answer.body) }
            guard let doc = answer.json else { throw ClusterCommand.failure("the node answered with something that is not JSON: \(answer.body)") }
            print(ClusterCommand.render(status: doc))
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a node as a learner; the leader promotes it to voter once it has caught up.")
        @OptionGroup var connection: Connection
        @Argument(help: "The new member's node id.")
        var id: UInt64
        @Argument(help: "The new member's peer address HOST:PORT (its --advertise).")
        var address: String
        @Flag(help: "If the id is already a member (a node that lost its disk), remove it and add it again.")
        var replace = false

        func run() async throws {
            let body = "{\"id\":\(id),\"address\":\(ClusterCommand.quote(address))" + (replace ? ",\"replace\":true}" : "}")
            let answer = try await ClusterCommand.send(connection, .POST, "/admin/v1/cluster/members", json: body)
            let index = (answer.json?["log_index"] as? NSNumber)?.uint64Value ?? 0
            if answer.status == 200 {
                print("node \(id) is already a member at \(address); nothing changed")
            } else if replace {
                print("replacing node \(id): removal proposed at log index \(index); it is added again as a learner at \(address) and promoted once caught up")
            } else {
                print("node \(id) added as a learner at \(address) (log index \(index)); it becomes a voter once caught up")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a member (the leader too: it hands leadership over once the change commits).")
        @OptionGroup var connection: Connection
        @Argument(help: "The member's node id.")
        var id: UInt64

        func run() async throws {
            let answer = try await ClusterCommand.send(connection, .DELETE, "/admin/v1/cluster/members/\(id)")
            let index = (answer.json?["log_index"] as? NSNumber)?.uint64Value ?? 0
            print("removal of node \(id) proposed at log index \(index); stop its process once `runnel cluster status` no longer lists it")
        }
    }

    struct TransferLeader: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "transfer-leader", abstract: "Hand leadership to another voter (the most caught-up one by default).")
        @OptionGroup var connection: Connection
        @Option(help: "The voter to hand leadership to.")
        var to: UInt64?

        func run() async throws {
            // Only the leader hands over; another node answers 409 naming the leader.
            let body = to.map { "{\"to\":\($0)}" } ?? ""
            _ = try await ClusterCommand.send(connection, .POST, "/admin/v1/cluster/transfer-leader", json: body)
            print(to.map { "leadership transfer to node \($0) started" } ?? "leadership transfer to the most caught-up voter started")
        }
    }

    /// Sends a request; a refusal becomes an error carrying the server's message.
    static func send(_ connection: Connection, _ method: HTTPMethod, _ path: String, json: String? = nil) async throws -> AdminClient.Answer {
        let client = try connection.client()
        let answer: AdminClient.Answer
        do { answer = try await client.request(method, path, json: json) } catch {
            throw failure("cannot reach \(client.target.hostHeader): \(error)")
        }
        guard answer.isSuccess else { throw failure(answer.errorDescription) }
        return answer
    }

    /// Prints `error: message` on standard error and exits with status 1.
    static func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(1)
    }

    static func quote(_ s: String) -> String {
        let escaped = s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escaped)\""
    }

    /// The status document as a summary line and a table of members.
    static func render(status doc: [String: Any]) -> String {
        func number(_ any: Any?) -> String { (any as? NSNumber).map { "\($0.uint64Value)" } ?? "-" }
        var lines = [
            "node \(number(doc["node_id"])): \(doc["role"] as? String ?? "?"), term \(number(doc["term"])), "
                + "leader \(number(doc["leader_id"])), commit \(number(doc["commit_index"])), applied \(number(doc["applied_index"]))",
        ]
        let rows = (doc["members"] as? [[String: Any]] ?? []).map { m -> [String] in
            [number(m["id"]), m["role"] as? String ?? ((m["voter"] as? Bool) == true ? "voter" : "learner"),
             (m["voter"] as? Bool) == true ? "yes" : "no", m["address"] as? String ?? "-", number(m["match_index"])]
        }
        let table = [["ID", "ROLE", "VOTER", "ADDRESS", "MATCH"]] + rows
        let widths = (0..<5).map { c in table.map { $0[c].count }.max() ?? 0 }
        for row in table {
            lines.append(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces))
        }
        return lines.joined(separator: "\n")
    }
}
