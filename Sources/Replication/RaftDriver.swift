import Foundation
import Logging
import Raft
import Storage
import StreamModel
import Synchronization

/// Runs one `RaftNode` on a dedicated thread, honouring the persistence contract of
/// docs/raft.md: send the leader's messages at once, write entries and hard state with one
/// synced RocksDB write, then send acknowledgements and report the write durable, and hand
/// committed entries to the apply thread.
///
/// Group commit: while the thread is in fsync, proposals from every connection (and those
/// followers forward) queue in the inbox; the next turn of the loop coalesces all of them into
/// one entry. One node is a one-voter group on the same path (docs/cluster.md).
final class RaftDriver: @unchecked Sendable {
    struct Inbox {
        var local: [TaggedCommand] = []
        var frames: [(from: NodeID, frame: PeerFrame)] = []
        var reads: [UInt64] = []
        var operations: [@Sendable (inout RaftNode) -> Void] = []
        /// Commands waiting to be proposed: local ones and those in forward frames.
        var proposals = 0
        var isEmpty: Bool { local.isEmpty && frames.isEmpty && reads.isEmpty && operations.isEmpty }
    }

    let id: NodeID
    private let configuration: NodeConfiguration
    private let log: LogStore
    private let applier: ApplyLoop
    private let waiters: Waiters
    private let transport: (any PeerTransport)?
    private let logger: Logger

    // Guarded by `lock`.
    private let lock = NSCondition()
    private var inbox = Inbox()
    private var stopping = false
    private var running = false
    private var failure: ReplicationError?
    private var stats = CommitStatistics()
    /// Linger bookkeeping (see `nextWork`), written by the Raft thread.
    private var isLeader = false
    private var lastBatch = 0
    private var lingerTarget = 0
    private var lastSyncNanoseconds: UInt64 = 0

    /// The latest role, term, leader and progress, for status, readiness and metrics.
    let status: Mutex<ClusterStatus>

    // Owned by the Raft thread.
    private var node: RaftNode
    private var lastTime: Int64
    private var nextTick: UInt64 = 0
    /// Local proposals waiting for a leader to be known.
    private var unrouted: [TaggedCommand] = []
    /// Local proposals forwarded and not yet accepted or rejected, by seq.
    private var forwarded: [UInt64: TaggedCommand] = [:]
    /// Reads waiting for a leader, and reads asked and not yet answered, with when asked.
    private var unroutedReads: [UInt64] = []
    private var askedReads: [UInt64: UInt64] = [:]
    private var compactedThrough: UInt64
    private var lastSyncedHardState: HardState

    init(id: NodeID, node: RaftNode, configuration: NodeConfiguration, log: LogStore, applier: ApplyLoop,
         waiters: Waiters, transport: (any PeerTransport)?, lastTime: Int64, logger: Logger) {
        self.id = id
        self.node = node
        self.configuration = configuration
        self.log = log
        self.applier = applier
        self.waiters = waiters
        self.transport = transport
        self.lastTime = lastTime
        self.logger = logger
        compactedThrough = node.firstIndex > 0 ? node.firstIndex - 1 : 0
        lastSyncedHardState = node.hardState
        status = Mutex(ClusterStatus(node: node))
    }

    func start() {
        running = true
        let thread = Thread { [self] in run() }
        thread.name = "runnel-raft"
        thread.start()
    }

    func stop() {
        lock.lock()
        stopping = true
        lock.broadcast()
        while running { lock.wait() }
        lock.unlock()
    }

    var statistics: CommitStatistics {
        lock.lock()
        defer { lock.unlock() }
        return stats
    }

    // MARK: Inputs (any thread)

    /// Queues a local proposal whose waiter is registered; `false` when the driver is down.
    func submit(_ command: TaggedCommand) -> ReplicationError? {
        lock.lock()
        defer { lock.unlock() }
        if let failure { return failure }
        if stopping { return ReplicationError(.closed, "the node is shutting down") }
        inbox.local.append(command)
        inbox.proposals += 1
        if inbox.local.count == 1 || inbox.proposals == lingerTarget { lock.signal() }
        return nil
    }

    func submitRead(_ id: UInt64) -> ReplicationError? {
        lock.lock()
        defer { lock.unlock() }
        if let failure { return failure }
        if stopping { return ReplicationError(.closed, "the node is shutting down") }
        inbox.reads.append(id)
        lock.signal()
        return nil
    }

    /// A frame from a peer (called on the transport's event loop; never blocks for long).
    func receive(_ frame: PeerFrame, from: NodeID) {
        lock.lock()
        inbox.frames.append((from, frame))
        if case .forward(let commands) = frame { inbox.proposals += commands.count }
        lock.signal()
        lock.unlock()
    }

    /// Runs `body` on the Raft thread with the node (operator actions: transfer, campaign).
    func perform(_ body: @escaping @Sendable (inout RaftNode) -> Void) {
        lock.lock()
        inbox.operations.append(body)
        lock.signal()
        lock.unlock()
    }

    // MARK: The loop

    private func run() {
        nextTick = Waiters.now() + configuration.tickNanoseconds
        if node.membership.voters == [id] { node.campaign() }
        // The first turn runs at once, so a single voter's self-election is persisted and
        // published without waiting for the first tick.
        var work: Inbox? = Inbox()
        while let current = work {
            do { try turn(current) } catch {
                logger.critical("raft log write failed; refusing further writes", metadata: ["error": "\(error)"])
                fail(error)
                break
            }
            work = nextWork()
        }
        lock.lock()
        running = false
        lock.broadcast()
        lock.unlock()
    }

    private func nextWork() -> Inbox? {
        lock.lock()
        defer { lock.unlock() }
        while inbox.isEmpty && !stopping && failure == nil {
            // One reading of the clock: reading it again after the comparison could pass
            // `nextTick` in between and underflow the subtraction.
            let now = Waiters.now()
            guard now < nextTick else { break }
            _ = lock.wait(until: Date(timeIntervalSinceNow: Double(nextTick - now) / 1e9))
        }
        if stopping || failure != nil { return nil }
        // Adaptive linger (leader only): when fewer proposals wait than the last entry carried,
        // the others are most likely being answered and about to come back. Waiting for them —
        // never longer than the last fsync took, nor `maxLinger` — lets one entry and one fsync
        // carry them all instead of two.
        if isLeader, inbox.proposals > 0, (inbox.proposals < lastBatch), configuration.maxLinger > .zero {
            let limit = min(lastSyncNanoseconds, Node.nanoseconds(configuration.maxLinger))
            let deadline = Date(timeIntervalSinceNow: Double(limit) / 1e9)
            lingerTarget = lastBatch
            while inbox.proposals < lastBatch && !stopping && failure == nil {
                if !lock.wait(until: deadline) { break }
            }
            lingerTarget = 0
        }
        if inbox.proposals > 0 { lastBatch = inbox.proposals }
        let work = inbox
        inbox = Inbox()
        return work
    }

    private func turn(_ work: Inbox) throws(ReplicationError) {
        for (from, frame) in work.frames { handle(frame, from: from) }
        for operation in work.operations { operation(&node) }
        let now = Waiters.now()
        var ticked = false
        while now >= nextTick {
            node.tick()
            nextTick += configuration.tickNanoseconds
            ticked = true
        }
        if ticked {
            waiters.expire(now: now)
            retryStaleReads(now: now)
            // Proposals whose waiter timed out need no routing or tracking any more.
            unrouted.removeAll { !waiters.isWaiting($0.tag.seq) }
            forwarded = forwarded.filter { waiters.isWaiting($0.key) }
        }
        unrouted += work.local
        route(forwardedFrom: work.frames)
        unroutedReads += work.reads
        routeReads(now: now)
        try processReady()
        if ticked {
            do { try compactIfDue() } catch { throw ReplicationError(error) }
            status.withLock { $0 = ClusterStatus(node: node) }
        }
    }

    private func handle(_ frame: PeerFrame, from: NodeID) {
        switch frame {
        case .raft(let message):
            node.receive(message)
        case .forward:
            break  // proposed in `route` together with local proposals
        case .forwardAccepted(let accepted):
            for a in accepted {
                forwarded[a.seq] = nil
                waiters.setPosition(a.seq, a.position)
            }
        case .forwardRejected(let seqs, let reason, _):
            let commands = seqs.compactMap { forwarded.removeValue(forKey: $0) }
            switch reason {
            case .notLeader: unrouted += commands  // routed again once a leader is known
            case .busy: waiters.fail(seqs, ReplicationError(.busy, "the leader has too many uncommitted writes"))
            }
        }
    }

    /// Proposes local and forwarded commands on the leader (one entry per `maxCommandsPerEntry`
    /// or `maxBytesPerEntry`), forwards local ones to a known leader, and keeps them otherwise.
    private func route(forwardedFrom frames: [(from: NodeID, frame: PeerFrame)]) {
        var incoming: [(from: NodeID, commands: [TaggedCommand])] = []
        for (from, frame) in frames {
            if case .forward(let commands) = frame { incoming.append((from, commands)) }
        }
        guard !unrouted.isEmpty || !incoming.isEmpty else { return }
        if node.role == .leader {
            let local = unrouted.filter { waiters.isWaiting($0.tag.seq) }
            unrouted = []
            propose(local: local, incoming: incoming)
            return
        }
        for (from, commands) in incoming {
            transport?.send([.forwardRejected(seqs: commands.map(\.tag.seq), reason: .notLeader, leaderHint: node.leaderID)], to: from)
        }
        let leader = node.leaderID
        guard leader != 0, leader != id, node.role == .follower else { return }
        let local = unrouted.filter { waiters.isWaiting($0.tag.seq) }
        unrouted = []
        guard !local.isEmpty else { return }
        for c in local { forwarded[c.tag.seq] = c }
        waiters.markRouted(local.map(\.tag.seq))
        transport?.send([.forward(local)], to: leader)
    }

    private func propose(local: [TaggedCommand], incoming: [(from: NodeID, commands: [TaggedCommand])]) {
        let all = local + incoming.flatMap(\.commands)
        guard !all.isEmpty else { return }
        // Split into entries within the size limits.
        var batches: [[TaggedCommand]] = [[]]
        var bytes = 0
        for c in all {
            if batches[batches.count - 1].count >= configuration.maxCommandsPerEntry || bytes >= configuration.maxBytesPerEntry {
                batches.append([])
                bytes = 0
            }
            batches[batches.count - 1].append(c)
            bytes += c.command.count
        }
        let time = max(lastTime, configuration.clock())
        lastTime = time
        let positions: [LogPosition]
        do {
            positions = try node.propose(batch: batches.map { CommandBatch.encode(time: time, $0) })
        } catch {
            let reason: PeerFrame.ForwardRejection = error.code == .uncommittedLimit ? .busy : .notLeader
            if reason == .busy {
                waiters.fail(local.map(\.tag.seq), ReplicationError(.busy, "too many uncommitted writes"))
            } else {
                unrouted += local
            }
            for (from, commands) in incoming {
                transport?.send([.forwardRejected(seqs: commands.map(\.tag.seq), reason: reason, leaderHint: node.leaderID)], to: from)
            }
            return
        }
        var positionOf: [ProposalTag: LogPosition] = [:]
        for (batch, position) in zip(batches, positions) {
            for c in batch { positionOf[c.tag] = position }
        }
        for c in local {
            waiters.setPosition(c.tag.seq, positionOf[c.tag]!)
        }
        waiters.markRouted(local.map(\.tag.seq))
        for (from, commands) in incoming {
            transport?.send([.forwardAccepted(commands.map { ($0.tag.seq, positionOf[$0.tag]!) })], to: from)
        }
        lock.lock()
        stats.commands += UInt64(all.count)
        lock.unlock()
    }

    private func routeReads(now: UInt64) {
        guard !unroutedReads.isEmpty else { return }
        var waiting: [UInt64] = []
        for read in unroutedReads {
            do {
                try node.readIndex(context: ReadContext.make(read))
                askedReads[read] = now
            } catch {
                waiting.append(read)  // no leader yet: the waiter's deadline bounds the wait
            }
        }
        unroutedReads = waiting
    }

    /// A read forwarded to a leader that lost it is never answered: ask again.
    private func retryStaleReads(now: UInt64) {
        let stale = configuration.tickNanoseconds * UInt64(configuration.raft.electionTicks)
        for (read, asked) in askedReads where now - asked > stale {
            askedReads[read] = nil
            unroutedReads.append(read)
        }
    }

    private func processReady() throws(ReplicationError) {
        while node.hasReady {
            let ready = node.ready()
            send(ready.messages)
            if ready.snapshot != nil {
                // The leader compacted entries this node still needs. Installing a snapshot
                // means transferring the applied state (docs/cluster.md, "Gaps"); until that
                // exists the node stops rather than diverge.
                throw ReplicationError(.unavailable, "this node needs a snapshot from the leader, which this version cannot install")
            }
            if ready.needsPersist {
                do { try persist(ready) } catch { throw ReplicationError(error) }
            }
            send(ready.messagesAfterPersist)
            if let mark = ready.persistedMark { node.persisted(upTo: mark.index, term: mark.term) }
            for context in ready.readStates.map(\.context) { askedReads[ReadContext.id(context)] = nil }
            applier.enqueue(entries: ready.committedEntries, reads: ready.readStates)
            for context in ready.abandonedReads {
                let read = ReadContext.id(context)
                askedReads[read] = nil
                unroutedReads.append(read)
            }
            if let soft = ready.softState {
                lock.withLock { isLeader = soft.role == .leader }
                status.withLock { $0 = ClusterStatus(node: node) }
                logger.info("raft role changed", metadata: [
                    "role": "\(soft.role)", "term": "\(soft.term)", "leader": "\(soft.leader)"])
            }
        }
    }

    /// Step 2 of the contract. Entries, term and vote are synced; a change of the commit index
    /// alone is not (as in etcd: it is a restart hint, and a majority's logs hold the truth).
    private func persist(_ ready: Ready) throws(StorageError) {
        let termOrVoteChanged = ready.hardState.map {
            $0.term != lastSyncedHardState.term || $0.vote != lastSyncedHardState.vote
        } ?? false
        guard !ready.entries.isEmpty || termOrVoteChanged else {
            try log.save(entries: [], hardState: ready.hardState, sync: false)
            return
        }
        let started = Waiters.now()
        try log.save(entries: ready.entries, hardState: ready.hardState, sync: true)
        let elapsed = Waiters.now() - started
        if let hs = ready.hardState { lastSyncedHardState = hs }
        for entry in ready.entries where entry.kind == .normal {
            if let t = CommandBatch.time(of: entry.data) { lastTime = max(lastTime, t) }
        }
        configuration.onEntrySynced?(ready.entries.count, elapsed)
        lock.lock()
        lastSyncNanoseconds = elapsed
        stats.entries += UInt64(ready.entries.count)
        stats.syncs += 1
        stats.syncNanoseconds += elapsed
        lock.unlock()
    }

    private func send(_ messages: [Message]) {
        guard !messages.isEmpty, let transport else { return }
        var byPeer: [NodeID: [PeerFrame]] = [:]
        for m in messages { byPeer[m.to, default: []].append(.raft(m)) }
        for (peer, frames) in byPeer { transport.send(frames, to: peer) }
    }

    /// Compacts the log behind the applied state, keeping a cushion, and on the leader keeping
    /// what a live follower still needs, so followers catch up from the log instead of needing
    /// a snapshot; a follower further behind than `maxFollowerLagEntries` no longer holds it back.
    private func compactIfDue() throws(StorageError) {
        let written = applier.writtenIndex.load(ordering: .acquiring)
        guard written > configuration.retainedLogEntries else { return }
        var through = min(written, node.appliedIndex) - configuration.retainedLogEntries
        if node.role == .leader {
            for f in node.followers where node.lastIndex - f.match <= configuration.maxFollowerLagEntries {
                through = min(through, f.match)
            }
        }
        guard through > compactedThrough + configuration.retainedLogEntries / 2 else { return }
        let meta: SnapshotMetadata
        do { meta = try node.snapshotTaken(index: through, data: []) } catch { return }
        // Not synced: the applied state it relies on was written earlier to the same WAL, so no
        // crash can keep this deletion and lose that state.
        try log.save(entries: [], snapshot: meta, compactThrough: through, sync: false)
        compactedThrough = through
    }

    private func fail(_ error: ReplicationError) {
        lock.lock()
        failure = error
        lock.unlock()
        waiters.close(error)
    }
}

/// A node's view of the group, published by the Raft thread.
public struct ClusterStatus: Sendable {
    public var nodeID: NodeID
    public var role: RaftRole
    public var term: UInt64
    public var leaderID: NodeID
    public var commitIndex: UInt64
    public var appliedIndex: UInt64
    public var lastIndex: UInt64
    public var membership: Membership
    public var followers: [FollowerProgress]

    init(node: RaftNode) {
        nodeID = node.id
        role = node.role
        term = node.term
        leaderID = node.leaderID
        commitIndex = node.commitIndex
        appliedIndex = node.appliedIndex
        lastIndex = node.lastIndex
        membership = node.membership
        followers = node.followers
    }
}
