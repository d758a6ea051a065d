import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Raft
import Replication
import Storage
import StreamModel

extension RunnelResponder {
    /// Makes a read linearizable (design.md "Read path"): wait until this node has applied
    /// everything committed before the request arrived (ReadIndex). `consistency=local` skips
    /// it and reads whatever this node has applied.
    func readBarrier(_ request: Request, _ route: Route) async throws {
        switch route {
        case .stream, .streamResource, .bucket, .bucketStreams: break
        default: return
        }
        switch request.uri.queryParameters["consistency"] {
        case nil, "linearizable": try await store.readBarrier()
        case "local": return
        default: throw APIError.badRequest("invalid_consistency", "consistency must be linearizable or local")
        }
    }

    /// `GET /readyz` (api.md §3): ready only on a member (voter or learner) that knows the
    /// leader and has applied within a small window of what it knows committed (so a busy node
    /// does not flap); never on a node that is probing its peers or waiting to be admitted.
    func readiness() -> Response {
        let status = store.clusterStatus
        let applied = store.appliedIndex
        switch status.admission {
        case .member: break
        case .probing: return text(.serviceUnavailable, "asking peers whether the cluster exists\n")
        case .awaitingAdmission: return text(.serviceUnavailable, "waiting to be admitted (a joining node, or one that lost its data)\n")
        }
        guard status.membership.contains(status.nodeID) else { return text(.serviceUnavailable, "not a member yet\n") }
        guard !store.isInstallingSnapshot else { return text(.serviceUnavailable, "installing a snapshot\n") }
        guard status.leaderID != 0 else { return text(.serviceUnavailable, "no leader\n") }
        guard applied + Self.readinessLag >= status.commitIndex else {
            return text(.serviceUnavailable, "catching up: applied \(applied) of \(status.commitIndex)\n")
        }
        return text(.ok, "ready\n")
    }

    static let readinessLag: UInt64 = 64

    func admin(_ request: Request, _ route: AdminRoute) async throws -> Response {
        switch (route, request.method) {
        case (.cluster, .get):
            return json(.ok, clusterJSON(store.clusterStatus))
        case (.transferLeader, .post):
            let body = try await readBody(request)
            var target: UInt64?
            if !body.isEmpty {
                guard let parsed = Self.transferTarget(body) else {
                    throw APIError.badRequest("invalid_body", "expected {\"to\": <node id>} or an empty body")
                }
                target = parsed
            }
            let status = store.clusterStatus
            guard status.role == .leader else {
                throw APIError(.conflict, "not_leader", "node \(status.nodeID) is not the leader (leader: \(status.leaderID))")
            }
            if let target, target == status.nodeID || !status.membership.isVoter(target) {
                throw APIError.badRequest("invalid_target", "node \(target) is not another voter")
            }
            store.transferLeadership(to: target)
            return json(.accepted, "{\"transfer\":\"started\"}")
        case (.addMember, .post):
            return try await addMember(request)
        case (.removeMember(let raw), .delete):
            guard let id = UInt64(raw), id > 0 else {
                throw APIError.badRequest("invalid_member_id", "the member id must be a positive integer, got \(raw)")
            }
            let change: MemberChange
            do { change = try await store.removeMember(id: id) } catch { throw APIError(error) }
            return json(.accepted, memberChangeJSON(change, action: "remove", members: nil))
        case (.snapshot, .post):
            // This node's own snapshot: every node compacts its own log (docs/state-transfer.md §4).
            let index: UInt64
            do { index = try await store.takeSnapshot() } catch { throw APIError(error) }
            return json(.ok, "{\"snapshot_index\":\(index),\"log_start\":\(store.clusterStatus.firstIndex)}")
        case (.inspectStream(let path), .get):
            return try inspectStream(path)
        case (.buckets, .get):
            return bucketTotals()
        case (.bucketLimits(let bucket), .put):
            return try await setBucketLimit(request, bucket: bucket)
        case (.malformed(let code, let reason), .get):
            throw APIError.badRequest(code, reason)
        case (.keys, .get):
            return listKeys()
        case (.keys, .post):
            return try await createKey(request)
        case (.revokeKey(let id), .delete):
            guard APIKey.isValidID(id) else { throw APIError.badRequest("invalid_key_id", "a key id is 16 lowercase hex digits") }
            _ = try await propose(.revokeKey(id))
            return response(.noContent)
        default:
            throw APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not supported here")
        }
    }

    /// The body of `POST /admin/v1/cluster/members` (api.md §3).
    struct AddMemberBody: Decodable {
        var id: UInt64
        var address: String
        var replace: Bool?
    }

    /// `POST /admin/v1/cluster/members {"id","address","replace"?}`: 202 with the member once
    /// the leader appended the change, 200 when the member already exists at that address.
    /// The answer also lists the members as this node knows them (what `--join` starts from).
    func addMember(_ request: Request) async throws -> Response {
        let body = try await readBody(request)
        let parsed: AddMemberBody
        do { parsed = try JSONDecoder().decode(AddMemberBody.self, from: Data(body)) } catch {
            throw APIError.badRequest("invalid_body", "expected {\"id\": <node id>, \"address\": \"HOST:PORT\", \"replace\": <bool, optional>}")
        }
        guard parsed.id > 0 else { throw APIError.badRequest("invalid_member_id", "the member id must be a positive integer") }
        guard PeerAddress.isValid(parsed.address) else {
            throw APIError.badRequest("invalid_address", "address must be the member's peer address HOST:PORT, got \(parsed.address)")
        }
        let change: MemberChange
        do {
            change = try await store.addMember(id: parsed.id, address: parsed.address, replace: parsed.replace ?? false)
        } catch {
            throw APIError(error)
        }
        let action = parsed.replace == true ? "replace" : "add"
        return json(change.changed ? .accepted : .ok, memberChangeJSON(change, action: action, members: store.clusterStatus))
    }

    /// `{"id","address","voter","change","log_index","members"?}`: the member as the change
    /// leaves it (an added member is a learner until promoted).
    func memberChangeJSON(_ change: MemberChange, action: String, members status: ClusterStatus?) -> String {
        let address = change.address.isEmpty ? "null" : JSONText.quote(change.address)
        var out = "{\"id\":\(change.member),\"address\":\(address),\"voter\":\(change.voter)"
            + ",\"change\":\"\(change.changed ? action : "none")\",\"log_index\":\(change.index)"
        if let status {
            let addresses = store.peerAddresses
            let list = status.membership.allMembers.map { id in
                "{\"id\":\(id),\"address\":\(addresses[id].map(JSONText.quote) ?? "null"),\"voter\":\(status.membership.isVoter(id))}"
            }
            out += ",\"cluster_id\":\"\(store.identity.clusterID)\",\"leader_id\":\(status.leaderID)"
                + ",\"members\":[\(list.joined(separator: ","))]"
        }
        return out + "}"
    }

    /// `{"to": N}` → N.
    static func transferTarget(_ body: [UInt8]) -> UInt64? {
        let text = String(decoding: body, as: UTF8.self).filter { !$0.isWhitespace }
        guard text.hasPrefix("{\"to\":"), text.hasSuffix("}") else { return nil }
        return UInt64(text.dropFirst(6).dropLast())
    }

    func clusterJSON(_ status: ClusterStatus) -> String {
        let role = switch status.role {
        case .leader: "leader"
        case .candidate, .preCandidate: "candidate"
        case .follower: status.membership.isLearner(status.nodeID) ? "learner" : "follower"
        }
        let match = Dictionary(uniqueKeysWithValues: status.followers.map { ($0.id, $0.match) })
        let addresses = store.peerAddresses
        let members = status.membership.allMembers.map { id -> String in
            let address = addresses[id].map(JSONText.quote) ?? "null"
            let matchIndex = id == status.nodeID ? (status.role == .leader ? String(status.lastIndex) : "null")
                : match[id].map(String.init) ?? "null"
            let memberRole = status.membership.isLearner(id) ? "learner" : id == status.leaderID ? "leader" : "follower"
            return "{\"id\":\(id),\"address\":\(address),\"voter\":\(status.membership.isVoter(id)),\"role\":\"\(memberRole)\""
                + ",\"match_index\":\(matchIndex)}"
        }
        return "{\"node_id\":\(status.nodeID),\"cluster_id\":\"\(store.identity.clusterID)\",\"admission\":\"\(status.admission.name)\""
            + ",\"role\":\"\(role)\",\"term\":\(status.term),\"leader_id\":\(status.leaderID)"
            + ",\"commit_index\":\(status.commitIndex),\"applied_index\":\(store.appliedIndex),\"last_index\":\(status.lastIndex)"
            + ",\"members\":[\(members.joined(separator: ","))]}"
    }
}
