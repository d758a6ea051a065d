import ArgumentParser
import Foundation
import Logging
import Storage

/// `runnel serve --join URL`: learns a running cluster (api.md §3, §4; docs/cluster.md
/// "Membership changes"; docs/state-transfer.md §5-6).
enum Join {
    /// Reads `GET /admin/v1/cluster` from `url` until a member answers with the cluster's id and
    /// members, and returns their peer addresses (this node's `advertise` included) and the
    /// cluster id. The node then asks the leader over the peer transport to admit it as its own
    /// incarnation (the same request a node that lost its data sends): the leader adds it as a
    /// learner, or, if the id is a member already — an earlier incarnation whose data is gone —
    /// removes that one first. So a pod that lost its volume and restarts with `--join` never
    /// counts as a voter with an empty log. Connection failures and 5xx are retried with
    /// backoff; a 4xx stops the node with the server's message.
    static func run(url: String, caFile: String?, token: String? = nil, nodeID: UInt64, advertise: String,
                    logger: Logger) async throws -> (peers: [UInt64: String], cluster: ClusterID?) {
        let client = try AdminClient(url: url, caFile: caFile, token: token)
        var backoff: Duration = .milliseconds(200)
        var attempt = 0
        while true {
            attempt += 1
            let outcome: String
            do {
                let answer = try await client.request(.GET, "/admin/v1/cluster")
                if answer.isSuccess, let cluster = (answer.json?["cluster_id"] as? String).flatMap(ClusterID.init), !cluster.isNone {
                    let members = (answer.json?["members"] as? [[String: Any]]) ?? []
                    var peers: [UInt64: String] = [:]
                    for m in members {
                        if let id = (m["id"] as? NSNumber)?.uint64Value, let address = m["address"] as? String { peers[id] = address }
                    }
                    if !peers.isEmpty {
                        peers[nodeID] = advertise
                        logger.info("found the cluster; asking its leader to admit this node", metadata: [
                            "join.url": "\(url)", "cluster": "\(cluster)", "raft.peers": "\(peers)"])
                        return (peers, cluster)
                    }
                    outcome = "the member answered without members"
                } else if (400..<500).contains(answer.status) {
                    throw ValidationError("--join: \(url) answered \(answer.errorDescription)")
                } else {
                    outcome = answer.isSuccess ? "the member does not know its cluster yet" : answer.errorDescription
                }
            } catch let error as ValidationError {
                throw error
            } catch {
                outcome = "\(error)"
            }
            logger.log(level: attempt == 1 ? .info : .debug, "cluster not reachable yet; retrying", metadata: [
                "join.url": "\(url)", "join.attempt": "\(attempt)", "error": "\(outcome)"])
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }
}
