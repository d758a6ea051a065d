import Raft
import Storage

/// Admission (docs/state-transfer.md §5): a node whose data directory is new and that was
/// started with `--peers` does not bootstrap a group at once. It asks its peers whether the
/// cluster exists. If any answers that it does, this node lost its data — a voter that forgot
/// its vote and its log must never vote or acknowledge entries — and it stays out of Raft
/// until it is replaced. It bootstraps, as the initial voters always did, once every peer has
/// answered that the cluster is new, or once a majority of the initial voters (itself
/// included) has and the others stayed silent for `probeGraceTicks` (a fresh cluster with
/// one initial voter down still starts; a wipe beyond a minority is outside what Raft
/// promises anyway).
///
/// A fresh initial voter may answer "new" to its peers and only then hear from them, after
/// they bootstrapped without waiting for its own probe. To that voter the cluster is still
/// new: a node bootstrapping remembers the incarnation each peer answered "new" with (its
/// founders), and answers a query from that same incarnation "new". A node still probing has
/// never voted or acknowledged anything, and a wiped disk gets a new incarnation, so this
/// admits no amnesiac. Without it the late voter went through replacement: its id removed,
/// then added back as a learner, the cluster a voter short meanwhile (a CI run of
/// `hungFollowerAndHungLeaderRecover` stalled so).
extension RaftDriver {
    /// Queries go out every this many ticks (every 500 ms with the default tick).
    static let probeIntervalTicks: UInt64 = 10
    /// How long silent peers are waited for before a majority decides (2 s at 50 ms a tick).
    static let probeGraceTicks: UInt64 = 40

    func answerClusterQuery(from: NodeID, incarnation: UInt64) {
        // Once a leader of the cluster has appended anything (its first no-op), every member
        // keeps a log position above 0 for good, compacted or not.
        let founder = incarnation != 0 && founders[from] == incarnation
        let established = admission == .member && node.lastIndex > 0 && !founder
        transport?.send([.clusterInfo(clusterID: identity.clusterID, established: established,
                                      incarnation: identity.incarnation)], to: from)
    }

    func recordClusterInfo(from: NodeID, clusterID: ClusterID, established: Bool, incarnation: UInt64) {
        guard admission == .probing, initialVoters.contains(from) else { return }
        guard clusterID == identity.clusterID else {
            logger.error("peer belongs to another cluster; not bootstrapping with it", metadata: [
                "peer": "\(from)", "peer.cluster": "\(clusterID)", "cluster": "\(identity.clusterID)"])
            return
        }
        probeAnswers[from] = (established, incarnation)
    }

    /// The sequence number of this node's rejoin requests (apart from operators' requests).
    static let rejoinSeq = UInt64.max

    /// While waiting to be admitted (a `--join` node, or one that lost its data): ask every peer, every probe interval, to admit this
    /// incarnation again (the leader answers; see `lead(_:)` for `.rejoin`).
    func requestRejoinIfDue() {
        guard admission == .awaitingAdmission else { return }
        probeTicks += 1
        guard probeTicks % Self.probeIntervalTicks == 1, !ownAddress.isEmpty else { return }
        let request = MembershipRequest(action: .rejoin, member: id, address: ownAddress, incarnation: identity.incarnation)
        let frame = PeerFrame.membershipRequest(seq: Self.rejoinSeq, request: request, replyAddress: ownAddress)
        for peer in knownAddresses.withLock({ Array($0.keys) }) where peer != id { transport?.send([frame], to: peer) }
    }

    /// The leader's answer to a rejoin: once this incarnation is a member (a learner the
    /// leader will feed and promote), the node takes part in Raft again.
    func handleRejoinAnswer(_ answer: MembershipAnswer) throws(ReplicationError) {
        guard admission == .awaitingAdmission, answer.outcome == .accepted || answer.outcome == .unchanged else { return }
        try setAdmission(.member)
        logger.notice("admitted to the cluster: catching up as a learner", metadata: [
            "node": "\(id)", "raft.index": "\(answer.index)"])
    }

    /// On a tick while probing: ask the peers that have not answered, and decide once the
    /// answers allow it.
    func probeIfDue() throws(ReplicationError) {
        requestRejoinIfDue()
        guard admission == .probing else { return }
        if probeAnswers.values.contains(where: \.established) {
            logger.warning("""
                this node's data directory is new but its cluster already exists: it lost its data, \
                or it started after the others formed the cluster without it. It neither votes nor \
                acknowledges anything until the leader admits it as a new incarnation (it asks; the \
                leader replaces the old member by itself, docs/operations.md)
                """, metadata: ["node": "\(id)", "cluster": "\(identity.clusterID)"])
            try setAdmission(.awaitingAdmission)
            return
        }
        let others = initialVoters.filter { $0 != id }
        let newAnswers = probeAnswers.values.filter { !$0.established }.count
        if newAnswers == others.count || (probeTicks >= Self.probeGraceTicks && newAnswers + 1 >= initialVoters.count / 2 + 1) {
            try bootstrap()
            return
        }
        probeTicks += 1
        guard probeTicks % Self.probeIntervalTicks == 1 else { return }
        for peer in others where probeAnswers[peer] == nil {
            transport?.send([.clusterQuery(incarnation: identity.incarnation)], to: peer)
        }
    }

    /// Every initial voter answered that the cluster does not exist yet: start it.
    private func bootstrap() throws(ReplicationError) {
        let state = PersistentState.bootstrap(voters: initialVoters)
        do { try log.admit(bootstrapping: state) } catch { throw ReplicationError(error) }
        node = RaftNode(id: id, configuration: node.configuration, state: state)
        admission = .member
        founders = probeAnswers.compactMapValues { $0.established || $0.incarnation == 0 ? nil : $0.incarnation }
        lastSyncedHardState = node.hardState
        status.withLock { $0 = ClusterStatus(node: node, admission: admission) }
        logger.info("every initial voter is new: bootstrapped the cluster", metadata: [
            "voters": "\(initialVoters)", "cluster": "\(identity.clusterID)"])
    }

    func setAdmission(_ new: Admission) throws(ReplicationError) {
        do { try log.setAdmission(new) } catch { throw ReplicationError(error) }
        admission = new
        status.withLock { $0 = ClusterStatus(node: node, admission: admission) }
    }
}
