import Raft

// Fault injection, client traffic, per-step invariants and the liveness phase.

extension SimulationRun {
    func injectFaults() {
        let up = nodes.indices.filter { nodes[$0].isUp }
        let down = nodes.indices.filter { !nodes[$0].isUp && !nodes[$0].retired }
        if rng.chance(0.004), let i = rng.pick(up) { crash(i) }
        if rng.chance(0.03), let i = rng.pick(down) { restart(i) }
        // Targeted: crash a node whose term or vote is not yet on disk, often restarting it at
        // once, to catch anything sent before the state it depends on was durable.
        if rng.chance(0.02), let i = rng.pick(up.filter { nodes[$0].pendingWrites.contains { $0.hardState != nil } }) {
            crash(i)
            if rng.chance(0.5) { restart(i) }
        }
        let ids = nodes.filter { !$0.retired }.map(\.id)
        if rng.chance(0.004), ids.count > 1 {
            // Symmetric: a minority (sometimes the leader's side) is cut off from the rest.
            let size = rng.inRange(1...max(1, ids.count / 2))
            var shuffled = ids
            for k in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(k, rng.below(k + 1)) }
            let side = Set(shuffled.prefix(size))
            for a in ids where side.contains(a) {
                for b in ids where !side.contains(b) {
                    network.block(from: a, to: b)
                    network.block(from: b, to: a)
                }
            }
            report.partitions += 1
            log("partition \(side.sorted())")
        }
        if rng.chance(0.003), let a = rng.pick(ids) {
            // Asymmetric: one node can only send, or only receive.
            let outgoing = rng.chance(0.5)
            for b in ids where b != a {
                if outgoing { network.block(from: a, to: b) } else { network.block(from: b, to: a) }
            }
            report.partitions += 1
            log("asymmetric partition \(a) \(outgoing ? "cannot send" : "cannot receive")")
        }
        if rng.chance(0.012) {
            network.heal()
            log("heal")
        }
    }

    func clientOperations() throws(SimulationFailure) {
        let live = now >= faultEnd
        if rng.chance(live ? 0.2 : 0.3) { propose() }
        if rng.chance(0.1) { read() }
        if !live {
            if rng.chance(0.005) { changeMembership() }
            if rng.chance(0.002) { transfer() }
        } else if livenessFirstAck == nil, now >= faultEnd + options.livenessBound {
            throw fail("Liveness", "no proposal committed within \(options.livenessBound) steps after faults stopped")
        }
    }

    func propose() {
        let up = nodes.indices.filter { nodes[$0].isUp }
        guard let i = (rng.chance(0.85) ? leaderIndex : nil) ?? rng.pick(up) else { return }
        let count = rng.chance(0.2) ? rng.inRange(2...4) : 1
        let ids = (0..<count).map { _ -> UInt64 in
            defer { oracle.nextProposalID += 1 }
            return oracle.nextProposalID
        }
        do {
            let positions = try nodes[i].raft!.propose(batch: ids.map(SimOracle.bytes(of:)))
            for (pid, pos) in zip(ids, positions) {
                oracle.proposals[pid] = SimOracle.Proposal(node: nodes[i].id, incarnation: nodes[i].incarnation,
                                                           index: pos.index, term: pos.term, step: now)
            }
            log("\(nodes[i].id) accepts \(ids) at \(positions.map(\.index))")
        } catch {
            log("\(nodes[i].id) rejects proposal: \(error)")
        }
    }

    func read() {
        let up = nodes.indices.filter { nodes[$0].isUp }
        guard let i = rng.pick(up) else { return }
        let rid = oracle.nextReadID
        oracle.nextReadID += 1
        do {
            try nodes[i].raft!.readIndex(context: SimOracle.bytes(of: rid))
            oracle.reads[rid] = SimOracle.Read(node: nodes[i].id, incarnation: nodes[i].incarnation, minIndex: oracle.maxAckedIndex)
        } catch {}
    }

    func changeMembership() {
        guard let li = leaderIndex else { return }
        let m = nodes[li].raft!.membership
        var options: [MembershipChange] = []
        if nodes.count < maxNodes { options.append(.addLearner(NodeID(nodes.count + 1))) }
        if let l = rng.pick(m.learners) { options.append(.promote(l)) }
        if m.voters.count > 2, let v = rng.pick(m.voters) { options.append(.remove(v)) }
        if let l = rng.pick(m.learners) { options.append(.remove(l)) }
        guard let change = rng.pick(options) else { return }
        do {
            try nodes[li].raft!.proposeMembershipChange(change)
            report.membershipChanges += 1
            log("\(nodes[li].id) proposes \(change)")
            if case .addLearner(let id) = change {
                addNode(id: id, initial: PersistentState())
                restart(nodes.count - 1)
            }
        } catch {
            log("\(nodes[li].id) rejects \(change): \(error)")
        }
    }

    func transfer() {
        guard let li = leaderIndex else { return }
        let raft = nodes[li].raft!
        guard let target = rng.pick(raft.membership.voters.filter { $0 != raft.id }) else { return }
        if (try? nodes[li].raft!.transferLeadership(to: target)) != nil {
            report.transfers += 1
            log("\(raft.id) transfers leadership to \(target)")
        }
    }

    func acknowledged(proposedAt step: Int, index: UInt64) {
        report.proposalsAcked += 1
        if step >= faultEnd, livenessFirstAck == nil {
            livenessFirstAck = (now, index)
            report.livenessStepsToCommit = now - faultEnd
        }
    }

    // MARK: Invariants after every step

    func checkInvariants() throws(SimulationFailure) {
        for i in nodes.indices where nodes[i].isUp {
            let raft = nodes[i].raft!
            let id = raft.id
            if raft.role == .leader {
                if let other = oracle.leaders[raft.term] {
                    if other != id { throw fail("Election Safety", "\(other) and \(id) are both leaders of term \(raft.term)") }
                } else {
                    oracle.leaders[raft.term] = id
                    report.leaderElections += 1
                    log("\(id) leads term \(raft.term)")
                    try oracle.checkLeaderCompleteness(raft, sim: self)
                }
            }
            let commit = raft.commitIndex
            if commit < nodes[i].lastCommit {
                throw fail("Commit monotonic", "\(id) commit went from \(nodes[i].lastCommit) to \(commit)")
            }
            if commit > raft.lastIndex {
                throw fail("Commit bound", "\(id) commit \(commit) beyond last index \(raft.lastIndex)")
            }
            let wasLeader = nodes[i].lastRole == .leader && nodes[i].lastTerm == raft.term && raft.role == .leader
            if commit > nodes[i].lastCommit {
                for j in (nodes[i].lastCommit + 1)...commit {
                    guard let t = raft.term(at: j) else { continue }
                    try oracle.recordCommitted(index: j, term: t, node: id, sim: self)
                    if wasLeader { try checkDurable(index: j, term: t, membership: raft.membership) }
                }
            }
            nodes[i].lastCommit = commit
            nodes[i].lastRole = raft.role
            nodes[i].lastTerm = raft.term
        }
    }

    /// Acknowledged means durable: a leader may only commit what a majority of voters have on disk.
    func checkDurable(index: UInt64, term: UInt64, membership: Membership) throws(SimulationFailure) {
        var holders = 0
        for v in membership.voters {
            if let k = self.index(of: v), nodes[k].disk.holds(index: index, term: term) { holders += 1 }
        }
        if holders < membership.quorum {
            throw fail("Durability", "\(index)/\(term) committed while only \(holders) of \(membership.voters) hold it on disk")
        }
    }

    // MARK: Liveness

    func enterLivenessPhase() {
        network.heal()
        network.faults = SimNetwork.Faults(dropRate: 0, duplicateRate: 0, maxDelay: 2, longDelayRate: 0,
                                           fifoLinks: network.faults.fifoLinks)
        // Nodes whose removal committed are shut down, as the cluster driver does: without
        // check-quorum and pre-vote nothing stops a removed server from disrupting (thesis §4.2.3).
        var keep = Set(oracle.committedMembership.allMembers)
        if let li = leaderIndex { keep.formUnion(nodes[li].raft!.membership.allMembers) }
        for i in nodes.indices {
            if !keep.contains(nodes[i].id) {
                if nodes[i].isUp { crash(i) }
                nodes[i].retired = true
            } else if !nodes[i].isUp {
                restart(i)
            }
        }
        log("faults stop; members \(keep.sorted())")
    }

    func checkLiveness(final: Bool) throws(SimulationFailure) {
        guard options.livenessSteps > 0 else { return }
        guard let ack = livenessFirstAck else {
            throw fail("Liveness", "no proposal committed after faults stopped")
        }
        guard let li = leaderIndex else { throw fail("Liveness", "no leader at the end of the run") }
        for member in nodes[li].raft!.membership.allMembers {
            guard let k = index(of: member), nodes[k].isUp else { continue }
            if nodes[k].stateMachine.appliedIndex < ack.index {
                throw fail("Liveness", "member \(member) applied only \(nodes[k].stateMachine.appliedIndex), not \(ack.index)")
            }
        }
    }
}
