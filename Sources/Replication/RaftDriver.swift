import Foundation
import Logging
import Raft
import Storage
import StreamModel
import Synchronization

/// Runs one `RaftNode` on a dedicated thread, honouring the persistence contract of
/// docs/raft.md: send the leader's messages at once, write entries and hard state with one
/// synced RocksDB write (on the `LogWriter`'s thread when the node has peers), then send
/// acknowledgements and report the write durable, and hand committed entries to the apply
/// thread.
///
/// Group commit: while a log write is in flight, proposals from every connection (and those
/// followers forward) queue in the inbox; the turn after it completes coalesces all of them
/// into one entry. One node is a one-voter group on the same path (docs/cluster.md).
final class RaftDriver: @unchecked Sendable {
    struct Inbox {
        var local: [TaggedCommand] = []
        var frames: [(from: NodeID, frame: PeerFrame)] = []
        /// Followers' `forward` frames: proposals, held with `local` while a write is in flight.
        var forwards: [(from: NodeID, frame: PeerFrame)] = []
        /// Log writes the writer thread made durable, in order.
        var written: [LogWriter.Written] = []
        var reads: [UInt64] = []
        /// Routed proposals that can no longer apply (their entry was replaced, or their
        /// leader's term ended without them): routed again.
        var lost: [Waiters.LostRouting] = []
        var operations: [@Sendable (inout RaftNode) -> Void] = []
        /// Work for the Raft thread from other threads (snapshot files written, operators).
        var tasks: [RaftTask] = []
        /// Operators' membership requests (RaftDriver+Membership.swift).
        var membership: [(seq: UInt64, request: MembershipRequest)] = []
        /// Commands waiting to be proposed: local ones and those in forward frames.
        var proposals = 0
        var isEmpty: Bool { !hasProposals && !hasOtherWork }
        var hasProposals: Bool { !local.isEmpty || !forwards.isEmpty || !lost.isEmpty }
        var hasOtherWork: Bool {
            !frames.isEmpty || !reads.isEmpty || !operations.isEmpty || !membership.isEmpty || !tasks.isEmpty
                || !written.isEmpty
        }

        /// Moves the proposals out of this inbox into a new one.
        mutating func takeProposals() -> Inbox {
            var held = Inbox()
            swap(&held.local, &local)
            swap(&held.forwards, &forwards)
            swap(&held.lost, &lost)
            held.proposals = proposals
            proposals = 0
            return held
        }
    }

    let id: NodeID
    let configuration: NodeConfiguration
    let log: LogStore
    let applier: ApplyLoop
    let waiters: Waiters
    let transport: (any PeerTransport)?
    let logger: Logger

    // Guarded by `lock`.
    let lock = NSCondition()
    var inbox = Inbox()
    var stopping = false
    var running = false
    var failure: ReplicationError?
    var stats = CommitStatistics()
    /// Linger bookkeeping (see `nextWork`), written by the Raft thread.
    var isLeader = false
    var lastBatch = 0
    var lingerTarget = 0
    var lastSyncNanoseconds: UInt64 = 0

    /// The latest role, term, leader and progress, for status, readiness and metrics.
    let status: Mutex<ClusterStatus>
    /// Peer addresses by node id (stored in the data directory; configuration entries add to
    /// them), written by the Raft thread.
    let knownAddresses: Mutex<[NodeID: String]>
    /// Callers of membership requests waiting for an answer, by sequence number.
    let membershipCallers = Mutex<[UInt64: @Sendable (MembershipAnswer) -> Void]>([:])
    /// Told of every role change, on the Raft thread (set before `start`).
    var onRoleChange: (@Sendable (RaftRole) -> Void)?

    // Owned by the Raft thread.
    var node: RaftNode
    var lastTime: Int64
    var nextTick: UInt64 = 0
    /// Local proposals waiting for a leader to be known.
    var unrouted: [TaggedCommand] = []
    /// Local proposals handed to a leader (this one or another) and not yet applied, by seq:
    /// kept so they can be routed again if they are lost.
    var routed: [UInt64: Routing] = [:]
    /// Every node each waiting local proposal was forwarded to, in order: a rejection is known
    /// to answer a proposal's latest routing only if that node got the proposal once.
    var forwards: [UInt64: [NodeID]] = [:]
    /// Reads waiting for a leader, and reads asked and not yet answered, with when asked.
    var unroutedReads: [UInt64] = []
    var askedReads: [UInt64: UInt64] = [:]
    var compactedThrough: UInt64
    var lastSyncedHardState: HardState
    /// Whether this node takes part in Raft (RaftDriver+Admission.swift).
    var admission: Admission
    let identity: ClusterIdentity
    /// The voters a probing node bootstraps with when the cluster turns out to be new.
    let initialVoters: [NodeID]
    /// Probe answers by peer: whether its cluster is established, and its incarnation.
    var probeAnswers: [NodeID: (established: Bool, incarnation: UInt64)] = [:]
    /// The incarnations of the initial voters that answered "new" when this node bootstrapped
    /// (in memory only): to such an incarnation, still probing, the cluster is new too.
    var founders: [NodeID: UInt64] = [:]
    var probeTicks: UInt64 = 0

    var members = MembershipState()
    var snapshots: SnapshotState

    /// The thread that writes the log (LogWriter.swift), started when the node has a
    /// transport; a node without peers writes on the Raft thread (`writesOffThread`), where
    /// nothing else waits for it.
    var writer: LogWriter!
    /// Whether this turn's writes go to the writer thread: there is one, and another member.
    var writesOffThread: Bool { transport != nil && node.membership.allMembers.count > 1 }
    /// Writes submitted to `writer` and not yet reported durable. While one is in flight,
    /// proposals wait in the inbox until a write completes: the next entry then carries all
    /// that came meanwhile, as when the Raft thread itself waited for the fsync.
    var writesInFlight = 0

    init(id: NodeID, node: RaftNode, configuration: NodeConfiguration, log: LogStore, applier: ApplyLoop,
         waiters: Waiters, transport: (any PeerTransport)?, addresses: [NodeID: String], lastTime: Int64, logger: Logger,
         identity: ClusterIdentity, admission: Admission, initialVoters: [NodeID]) {
        self.id = id
        self.identity = identity
        self.admission = admission
        self.initialVoters = initialVoters.sorted()
        snapshots = SnapshotState(directory: configuration.snapshotDirectory)
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
        status = Mutex(ClusterStatus(node: node, admission: admission))
        knownAddresses = Mutex(addresses)
        writer = LogWriter(
            log: log, clock: configuration.monotonicClock, beforeWrite: configuration.beforeLogWrite,
            send: { [unowned self] in send($0) },
            onWritten: { [unowned self] written in
                lock.lock()
                inbox.written.append(written)
                lock.signal()
                lock.unlock()
            },
            onSynced: { [unowned self] in noteSynced(entries: $0, nanoseconds: $1) },
            onFailure: { [unowned self] error in
                logger.critical("raft log write failed; refusing further writes", metadata: ["error": "\(error)"])
                fail(ReplicationError(error))
            })
    }

    func start() {
        running = true
        if transport != nil { writer.start() }
        let thread = Thread { [self] in run() }
        thread.name = "runnel-raft"
        thread.start()
    }

    /// The Raft thread's loop has not ended yet.
    var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
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
        if case .forward(_, let commands) = frame {
            inbox.forwards.append((from, frame))
            inbox.proposals += commands.count
        } else {
            inbox.frames.append((from, frame))
        }
        lock.signal()
        lock.unlock()
    }

    /// Routings the apply loop found lost (see `Waiters.answer`): route them again.
    func reroute(_ lost: [Waiters.LostRouting]) {
        guard !lost.isEmpty else { return }
        lock.lock()
        inbox.lost += lost
        inbox.proposals += lost.count
        lock.signal()
        lock.unlock()
    }

    /// Work handed to the Raft thread, with what to do instead if that thread will never run
    /// it (it stopped, or its storage failed): a task holding a resource (a RocksDB view, a
    /// caller waiting) releases it there, or the resource outlives the node (a view left open
    /// keeps the database from closing, and locked for the next open).
    struct RaftTask {
        let run: @Sendable (RaftDriver) -> Void
        let dropped: @Sendable () -> Void
    }

    /// Runs `body` on the Raft thread with the driver, in the next turn; `dropped` instead (on
    /// the calling thread, or the stopping Raft thread) if that thread is down or going down.
    func runOnRaftThread(_ body: @escaping @Sendable (RaftDriver) -> Void, ifDropped dropped: @escaping @Sendable () -> Void = {}) {
        lock.lock()
        if stopping || failure != nil {
            lock.unlock()
            dropped()
            return
        }
        inbox.tasks.append(RaftTask(run: body, dropped: dropped))
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

    func run() {
        nextTick = configuration.monotonicClock.nanoseconds() + configuration.tickNanoseconds
        if node.membership.voters == [id] { node.campaign() }
        updatePeers()
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
        if transport != nil { writer.stop() }
        lock.lock()
        let unrun = inbox.tasks
        inbox.tasks = []
        let failed = failure
        lock.unlock()
        for task in unrun { task.dropped() }
        answerSnapshotWaiters(.failure(failed ?? ReplicationError(.closed, "the node is shutting down")))
        lock.lock()
        running = false
        lock.broadcast()
        lock.unlock()
    }

    /// A turn longer than the shortest election timeout stopped this node's heartbeats or
    /// answers long enough for an election: say so (what etcd calls "took too long").
    func warnIfSlow(since started: UInt64) {
        let took = configuration.monotonicClock.nanoseconds() - started
        guard node.membership.allMembers.count > 1,
              took > configuration.tickNanoseconds * UInt64(node.configuration.electionTicks) else { return }
        logger.warning("the raft thread was busy for longer than an election timeout; peers may have called an election",
                       metadata: ["ms": "\(took / 1_000_000)"])
    }

    func nextWork() -> Inbox? {
        lock.lock()
        defer { lock.unlock() }
        // Proposals wait while a write is in flight, until one completes (see
        // `writesInFlight`): the completion, in `inbox.written`, wakes the thread and they go
        // with it. Not until none is in flight: on a busy node one always is.
        while !inbox.hasOtherWork && (writesInFlight > 0 || !inbox.hasProposals) && !stopping && failure == nil {
            // One reading of the clock: reading it again after the comparison could pass
            // `nextTick` in between and underflow the subtraction.
            let now = configuration.monotonicClock.nanoseconds()
            guard now < nextTick else { break }
            _ = lock.wait(until: Date(timeIntervalSinceNow: Double(nextTick - now) / 1e9))
        }
        if stopping || failure != nil { return nil }
        if writesInFlight > 0 && inbox.written.isEmpty {
            let held = inbox.takeProposals()
            let work = inbox
            inbox = held
            return work
        }
        // Adaptive linger (leader only): when fewer proposals wait than the last entry carried,
        // the others are most likely being answered and about to come back. Waiting for them —
        // never longer than the last fsync took, nor `maxLinger` — lets one entry and one fsync
        // carry them all instead of two.
        if isLeader, inbox.proposals > 0, (inbox.proposals < lastBatch), configuration.maxLinger > .zero {
            let limit = min(lastSyncNanoseconds, configuration.maxLinger.wholeNanoseconds)
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

    func turn(_ work: Inbox) throws(ReplicationError) {
        let turnStarted = configuration.monotonicClock.nanoseconds()
        defer { warnIfSlow(since: turnStarted) }
        noteWritten(work.written)
        for (from, frame) in work.frames { handle(frame, from: from) }
        for operation in work.operations { operation(&node) }
        for task in work.tasks { task.run(self) }
        let now = configuration.monotonicClock.nanoseconds()
        // One tick per turn at most: ticks missed while this thread was busy (a long synced
        // write, a snapshot install) are dropped, as a Go ticker drops them for etcd. Catching
        // them up at once would count the node's own stall as the leader's silence: a follower
        // that spent a second writing a large entry would campaign the moment it finished.
        let ticked = now >= nextTick
        if ticked {
            node.tick()
            nextTick = max(nextTick + configuration.tickNanoseconds, now + configuration.tickNanoseconds / 2)
        }
        if ticked {
            waiters.expire(now: now)
            retryStaleReads(now: now)
            // Proposals whose waiter timed out need no routing or tracking any more.
            unrouted.removeAll { !waiters.isWaiting($0.tag.seq) }
            routed = routed.filter { waiters.isWaiting($0.key) }
            forwards = forwards.filter { waiters.isWaiting($0.key) }
        }
        // A signal about an earlier routing (the proposal was routed again since, after a
        // rejection) is stale: routing the proposal once more could apply it twice.
        unrouted += work.lost.compactMap { lost in
            routed[lost.seq]?.term == lost.term ? routed.removeValue(forKey: lost.seq)?.command : nil
        }
        unrouted += work.local
        route(forwardedFrom: work.forwards)
        unroutedReads += work.reads
        routeReads(now: now)
        driveMembership(work.membership, now: now, ticked: ticked)
        try processReady()
        if ticked {
            try probeIfDue()
            takeSnapshotIfDue()
            do { try compactIfDue() } catch { throw ReplicationError(error) }
            status.withLock { $0 = ClusterStatus(node: node, admission: admission) }
        }
    }

}
