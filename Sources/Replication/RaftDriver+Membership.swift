import Logging
import Raft
import Storage
import Synchronization

/// Membership changes in the running server (docs/cluster.md "Membership changes"; Raft
/// thesis §4.2–§4.3). Any node takes an operator's request and hands it to the leader over the
/// peer transport (a node that is not a member yet asks every peer it knows, giving its own
/// address so they can answer); the leader proposes one single-server change at a time,
/// promotes a learner once it is within `promoteLag` entries, and runs a replace as a removal
/// followed by an addition. Every configuration entry carries the member's peer address
/// (``MembershipContext``), so every node learns it from its log, stores it and dials it.
extension RaftDriver {
    /// Raft-thread state of membership changes.
    struct MembershipState {
        /// Requests this node made, by sequence number, until answered or expired.
        var outgoing: [UInt64: Outgoing] = [:]
        /// Leader: a replace whose removal is in the log; the member is added again once the
        /// removal commits.
        var pendingReplace: (member: NodeID, address: String, incarnation: UInt64)?
        /// The incarnation of each member as the configuration entries that added it said
        /// (absent: unknown, e.g. an initial voter, or learnt before a restart).
        var incarnations: [NodeID: UInt64] = [:]
        /// Addresses of non-members that sent a request, to answer them, until `until`.
        var transient: [NodeID: (address: String, until: UInt64)] = [:]
        /// Leader: answers already given to other nodes, so a repeated request (its answer was
        /// lost) gets the same answer instead of being applied again. Bounded, oldest first out.
        var answered: [AnswerKey: MembershipAnswer] = [:]
        var answeredOrder: [AnswerKey] = []
        /// What the transport was last told to connect to.
        var dialled: [NodeID: String]?

        struct Outgoing {
            var request: MembershipRequest
            var deadline: UInt64
            var lastSent: UInt64?
            var hint: NodeID = 0
        }

        struct AnswerKey: Hashable {
            var from: NodeID
            var seq: UInt64
        }
    }

    /// How long the leader remembers the address of a non-member that asked it something.
    static let transientAddressNanoseconds: UInt64 = 60_000_000_000
    /// Answers the leader remembers for repeated requests.
    static let answeredLimit = 256

    var membershipRetryNanoseconds: UInt64 { configuration.tickNanoseconds * 5 }

    // MARK: Inputs (any thread)

    /// Queues an operator's request; `done` is called exactly once with the leader's answer
    /// (or `unavailable` when no leader answered before `proposalTimeout`).
    func submitMembership(_ request: MembershipRequest, seq: UInt64, done: @escaping @Sendable (MembershipAnswer) -> Void) {
        lock.lock()
        let refused: String? = if failure != nil { "the node's storage failed" } else if stopping { "the node is shutting down" } else { nil }
        if refused == nil {
            membershipCallers.withLock { $0[seq] = done }
            inbox.membership.append((seq, request))
            lock.signal()
        }
        lock.unlock()
        if let refused { done(MembershipAnswer(.unavailable, member: request.member, message: refused)) }
    }

    /// Fails every caller still waiting (shutdown).
    func closeMembershipCallers(_ message: String) {
        let callers = membershipCallers.withLock { callers in
            defer { callers = [:] }
            return callers
        }
        for done in callers.values { done(MembershipAnswer(.unavailable, member: 0, message: message)) }
    }

    private func answerCaller(_ seq: UInt64, _ answer: MembershipAnswer) {
        members.outgoing[seq] = nil
        let done = membershipCallers.withLock { $0.removeValue(forKey: seq) }
        done?(answer)
    }

    // MARK: The Raft thread

    /// One turn's membership work: new requests, retries and expiry of this node's requests,
    /// and on the leader the follow-up changes (promotion, the second half of a replace).
    func driveMembership(_ new: [(seq: UInt64, request: MembershipRequest)], now: UInt64, ticked: Bool) {
        for (seq, request) in new {
            members.outgoing[seq] = MembershipState.Outgoing(
                request: request, deadline: now + configuration.proposalTimeout.wholeNanoseconds)
        }
        if ticked || !new.isEmpty { sendMembershipRequests(now: now) }
        guard ticked else { return }
        let expired = Array(members.transient.filter { $0.value.until <= now }.keys)
        if !expired.isEmpty {
            for id in expired { members.transient[id] = nil }
            updatePeers()
        }
        if node.role == .leader { advanceMembership() }
    }

    private func sendMembershipRequests(now: UInt64) {
        for (seq, out) in members.outgoing {
            if now >= out.deadline {
                answerCaller(seq, MembershipAnswer(.unavailable, member: out.request.member,
                                                   message: "no leader took the membership change in time"))
                continue
            }
            if let last = out.lastSent, now - last < membershipRetryNanoseconds { continue }
            members.outgoing[seq]?.lastSent = now
            if node.role == .leader {
                let answer = lead(out.request)
                if !answer.isRetryable { answerCaller(seq, answer) }
                continue
            }
            let frame = PeerFrame.membershipRequest(seq: seq, request: out.request, replyAddress: ownAddress)
            let leader = node.leaderID != 0 ? node.leaderID : out.hint
            if leader != 0, leader != id {
                transport?.send([frame], to: leader)
            } else if !node.membership.contains(id) {
                // Not a member: no leader talks to this node yet; ask everyone it knows.
                for peer in knownAddresses.withLock({ Array($0.keys) }) where peer != id { transport?.send([frame], to: peer) }
            }
        }
    }

    /// A membership frame from a peer.
    func handleMembershipFrame(_ frame: PeerFrame, from: NodeID) {
        switch frame {
        case .membershipRequest(let seq, let request, let replyAddress):
            if !replyAddress.isEmpty, PeerAddress.isValid(replyAddress), knownAddresses.withLock({ $0[from] }) != replyAddress {
                let now = configuration.monotonicClock.nanoseconds()
                members.transient[from] = (replyAddress, now + Self.transientAddressNanoseconds)
                updatePeers()
            }
            let answer: MembershipAnswer
            if node.role != .leader {
                answer = MembershipAnswer(.notLeader, member: request.member, leaderHint: node.leaderID,
                                          message: "node \(id) is not the leader")
            } else if request.action == .rejoin {
                answer = lead(request)  // idempotent: asked again until it says "member"
            } else if let earlier = members.answered[MembershipState.AnswerKey(from: from, seq: seq)] {
                answer = earlier
            } else {
                answer = lead(request)
                if !answer.isRetryable { remember(answer, from: from, seq: seq) }
            }
            transport?.send([.membershipResponse(seq: seq, answer: answer)], to: from)
        case .membershipResponse(let seq, let answer):
            guard members.outgoing[seq] != nil else { return }
            if answer.isRetryable {
                members.outgoing[seq]?.hint = answer.leaderHint
            } else {
                answerCaller(seq, answer)
            }
        default:
            break
        }
    }

    private func remember(_ answer: MembershipAnswer, from: NodeID, seq: UInt64) {
        let key = MembershipState.AnswerKey(from: from, seq: seq)
        members.answered[key] = answer
        members.answeredOrder.append(key)
        if members.answeredOrder.count > Self.answeredLimit {
            members.answered[members.answeredOrder.removeFirst()] = nil
        }
    }

    /// Whether a change is in flight (api.md §3: one at a time): the latest configuration entry
    /// is uncommitted, a learner awaits promotion, or a replace awaits its second half.
    var membershipChangeInFlight: Bool {
        node.membershipChangePending || !node.membership.learners.isEmpty || members.pendingReplace != nil
    }

    /// The leader's decision on `request` (thesis §4.2: one single-server change at a time).
    func lead(_ request: MembershipRequest) -> MembershipAnswer {
        let m = node.membership
        let member = request.member
        let known = knownAddresses.withLock { $0[member] }
        guard member != 0 else { return MembershipAnswer(.invalid, member: member, message: "member id must be positive") }
        switch request.action {
        case .rejoin:
            guard PeerAddress.isValid(request.address), request.incarnation != 0 else {
                return MembershipAnswer(.invalid, member: member, message: "a rejoin needs an address and an incarnation")
            }
            if members.incarnations[member] == request.incarnation, m.contains(member) {
                return MembershipAnswer(.unchanged, member: member, address: request.address, voter: m.isVoter(member))
            }
            // A learner of unknown incarnation that never acknowledged anything (added by an
            // operator, or by the chart, for this node): it is this incarnation's to take; no
            // progress of another incarnation can be counted for it.
            if m.isLearner(member), members.incarnations[member] == nil,
               (node.followers.first { $0.id == member }?.match ?? 0) == 0 {
                members.incarnations[member] = request.incarnation
                return MembershipAnswer(.unchanged, member: member, address: request.address, voter: false)
            }
            guard member != id else {
                return MembershipAnswer(.conflict, member: member, message: "node \(member) leads; it cannot have lost its data")
            }
            if members.pendingReplace?.member == member {
                return MembershipAnswer(.inProgress, member: member, leaderHint: id, message: "node \(member) is being replaced")
            }
            guard !membershipChangeInFlight else { return inProgress(member) }
            if m.contains(member) {
                // Another (or an unknown) incarnation holds the id: remove it first; this one is
                // added once the removal commits, and answered when it asks again.
                let answer = propose(.remove(member), MembershipContext(member: member, address: ""), request)
                guard answer.outcome == .accepted else { return answer }
                members.pendingReplace = (member, request.address, request.incarnation)
                logger.info("a member lost its data: removing its old incarnation", metadata: ["raft.member": "\(member)"])
                return MembershipAnswer(.inProgress, member: member, leaderHint: id, message: "removing the old incarnation of node \(member)")
            }
            return propose(.addLearner(member), MembershipContext(member: member, address: request.address, incarnation: request.incarnation), request)
        case .add, .replace:
            guard PeerAddress.isValid(request.address) else {
                return MembershipAnswer(.invalid, member: member, message: "address must be HOST:PORT, got \(request.address)")
            }
            if m.contains(member) {
                if request.action == .add || members.pendingReplace?.member == member {
                    guard known == request.address else {
                        return MembershipAnswer(.conflict, member: member, address: known ?? "",
                                                message: "node \(member) is a member at \(known ?? "an unknown address"); remove it or replace it")
                    }
                    return MembershipAnswer(.unchanged, member: member, address: request.address, voter: m.isVoter(member))
                }
                guard member != id else {
                    return MembershipAnswer(.conflict, member: member, message: "node \(member) leads; transfer leadership before replacing it")
                }
                guard !membershipChangeInFlight else { return inProgress(member) }
                let answer = propose(.remove(member), MembershipContext(member: member, address: ""), request)
                if answer.outcome == .accepted {
                    members.pendingReplace = (member, request.address, 0)
                    logger.info("replacing a member: removal proposed", metadata: ["raft.member": "\(member)", "raft.index": "\(answer.index)"])
                }
                return answer
            }
            guard !membershipChangeInFlight else { return inProgress(member) }
            return propose(.addLearner(member), MembershipContext(member: member, address: request.address), request)
        case .remove:
            guard m.contains(member) else {
                return MembershipAnswer(.notFound, member: member, message: "node \(member) is not a member")
            }
            // Abandoning a learner that never catches up is allowed while it awaits promotion.
            let abandoningLearner = m.isLearner(member) && !node.membershipChangePending && members.pendingReplace == nil
            guard !membershipChangeInFlight || abandoningLearner else { return inProgress(member) }
            guard m.voters != [member] else {
                return MembershipAnswer(.conflict, member: member, message: "node \(member) is the last voter")
            }
            return propose(.remove(member), MembershipContext(member: member, address: ""), request)
        }
    }

    private func inProgress(_ member: NodeID) -> MembershipAnswer {
        let m = node.membership
        let why = !m.learners.isEmpty ? "learner \(m.learners.map(String.init).joined(separator: ",")) awaits promotion"
            : members.pendingReplace.map { "node \($0.member) is being replaced" } ?? "the last membership change is not committed yet"
        return MembershipAnswer(.inProgress, member: member, leaderHint: id, message: "another membership change is in progress: \(why)")
    }

    private func propose(_ change: MembershipChange, _ context: MembershipContext, _ request: MembershipRequest) -> MembershipAnswer {
        do {
            let position = try node.proposeMembershipChange(change, context: context.encoded())
            logger.info("membership change proposed", metadata: [
                "raft.change": "\(change)", "raft.index": "\(position.index)", "raft.member.address": "\(context.address)"])
            let voter = switch change {
            case .promote: true
            case .addLearner, .remove: false
            }
            return MembershipAnswer(.accepted, member: request.member, address: request.address, voter: voter, index: position.index)
        } catch {
            switch error.code {
            case .notLeader: return MembershipAnswer(.notLeader, member: request.member, leaderHint: node.leaderID)
            case .membershipChangePending: return inProgress(request.member)
            case .invalidMembershipChange:
                return MembershipAnswer(.conflict, member: request.member, message: "the change does not apply to the membership \(node.membership)")
            default:
                return MembershipAnswer(.unavailable, member: request.member, leaderHint: id, message: "\(error)")
            }
        }
    }

    /// Leader, once per tick: the second half of a replace once its removal committed, else
    /// the promotion of a learner within `promoteLag` entries of the leader's last index
    /// (thesis §4.2.1), one change at a time.
    private func advanceMembership() {
        guard !node.membershipChangePending, node.transferTarget == 0 else { return }
        let m = node.membership
        if let replace = members.pendingReplace {
            if m.contains(replace.member) {
                // The removal was lost with a previous leader's log: ask again.
                _ = propose(.remove(replace.member), MembershipContext(member: replace.member, address: ""),
                            MembershipRequest(action: .remove, member: replace.member))
            } else {
                let answer = propose(.addLearner(replace.member),
                                     MembershipContext(member: replace.member, address: replace.address, incarnation: replace.incarnation),
                                     MembershipRequest(action: .add, member: replace.member, address: replace.address))
                if answer.outcome == .accepted { members.pendingReplace = nil }
            }
            return
        }
        let last = node.lastIndex
        for learner in m.learners {
            guard let f = node.followers.first(where: { $0.id == learner }), f.match > 0,
                  last - min(f.match, last) <= configuration.promoteLag else { continue }
            _ = propose(.promote(learner), MembershipContext(member: learner, address: ""),
                        MembershipRequest(action: .add, member: learner))
            return
        }
    }

    // MARK: Addresses

    /// This node's own peer address, as stored (`--advertise` or its `--peers` entry), or "".
    var ownAddress: String { knownAddresses.withLock { $0[id] } ?? "" }

    /// Called for every entry batch the driver persists (leader and followers): configuration
    /// entries teach this node their member's address; the new membership decides whom the
    /// transport keeps connections to.
    func noteConfigurationEntries(_ entries: [Entry]) throws(StorageError) {
        var learned: [NodeID: String] = [:]
        var sawConfiguration = false
        for entry in entries where entry.kind == .configuration {
            sawConfiguration = true
            guard let decoded = try? ConfigurationEntry(decoding: entry.data), !decoded.context.isEmpty,
                  let context = try? MembershipContext(decoding: decoded.context),
                  !context.address.isEmpty, PeerAddress.isValid(context.address) else { continue }
            learned[context.member] = context.address
            if context.incarnation != 0 { members.incarnations[context.member] = context.incarnation }
        }
        guard sawConfiguration else { return }
        if !learned.isEmpty {
            let (changed, all) = knownAddresses.withLock { known -> (Bool, [NodeID: String]) in
                let before = known
                known.merge(learned) { _, new in new }
                return (known != before, known)
            }
            if changed {
                try log.setPeerAddresses(all)
                logger.info("learned peer addresses from the log", metadata: ["raft.peers": "\(learned)"])
            }
        }
        updatePeers()
    }

    /// Tells the transport whom to keep connections to: the members with a known address (every
    /// known address while this node knows no membership yet), plus non-members waiting for an
    /// answer from this node.
    func updatePeers() {
        let m = node.membership
        var dial = knownAddresses.withLock { known in m.isEmpty ? known : known.filter { m.contains($0.key) } }
        for (peer, t) in members.transient where dial[peer] == nil { dial[peer] = t.address }
        dial[id] = nil
        guard dial != members.dialled else { return }
        members.dialled = dial
        transport?.setPeers(dial)
    }
}

/// The syntax of peer addresses that arrive in requests and log entries: `HOST:PORT`.
public enum PeerAddress {
    /// Whether `text` is `HOST:PORT` with a non-empty host and a port in 1...65535.
    public static func isValid(_ text: String) -> Bool {
        guard text.utf8.count <= MembershipContext.maxAddressBytes, let colon = text.lastIndex(of: ":") else { return false }
        let host = text[..<colon]
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return false }
        return !host.contains(where: { $0.isWhitespace || $0 == "/" })
    }
}
