import ArgumentParser
import Foundation
import Logging
import Storage

/// `runnel serve --join URL`: asks a running cluster to add this node (api.md §3, §4;
/// docs/cluster.md "Membership changes").
enum Join {
    /// Posts `{"id": nodeID, "address": advertise}` to `url`'s admin API until it is accepted
    /// (202, or 200 when this node is already a member at that address) and returns the members'
    /// peer addresses and the cluster id from the answer. Connection failures, 5xx and 409 (another change in
    /// flight) are retried with backoff; any other refusal (4xx, and a 409 `member_conflict`:
    /// the id is a member at another address) stops the node with the server's message.
    static func run(url: String, caFile: String?, nodeID: UInt64, advertise: String, logger: Logger) async throws -> (peers: [UInt64: String], cluster: ClusterID?) {
        let client = try AdminClient(url: url, caFile: caFile)
        let body = "{\"id\":\(nodeID),\"address\":\(ClusterCommand.quote(advertise))}"
        var backoff: Duration = .milliseconds(200)
        var attempt = 0
        while true {
            attempt += 1
            let outcome: String
            do {
                let answer = try await client.request(.POST, "/admin/v1/cluster/members", json: body)
                if answer.isSuccess {
                    let members = (answer.json?["members"] as? [[String: Any]]) ?? []
                    var peers: [UInt64: String] = [:]
                    for m in members {
                        if let id = (m["id"] as? NSNumber)?.uint64Value, let address = m["address"] as? String { peers[id] = address }
                    }
                    peers[nodeID] = advertise
                    logger.info("admitted to the cluster as a learner", metadata: [
                        "join.url": "\(url)", "raft.log_index": "\((answer.json?["log_index"] as? NSNumber)?.uint64Value ?? 0)",
                        "raft.peers": "\(peers)"])
                    return (peers, (answer.json?["cluster_id"] as? String).flatMap(ClusterID.init))
                }
                let permanent = (400..<500).contains(answer.status) && answer.status != 409 && answer.status != 429
                    || answer.errorCode == "member_conflict"
                if permanent {
                    throw ValidationError("--join: \(url) refused to add node \(nodeID): \(answer.errorDescription)")
                }
                outcome = answer.errorDescription
            } catch let error as ValidationError {
                throw error
            } catch {
                outcome = "\(error)"
            }
            logger.log(level: attempt == 1 ? .info : .debug, "join request not accepted yet; retrying", metadata: [
                "join.url": "\(url)", "join.attempt": "\(attempt)", "error": "\(outcome)"])
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }
}
