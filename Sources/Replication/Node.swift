import Foundation
import Logging
import Raft
import Storage
import StreamModel
import Synchronization

/// Configuration of a node's storage and replication. Only the executable reads flags; this
/// is what it fills.
public struct NodeConfiguration: Sendable {
    /// The node's data directory; the RocksDB database lives in `<dataDirectory>/db`.
    public var dataDirectory: String
    /// This node's id in the group (used when the data directory is new; a restart takes it
    /// from the data and refuses a different one).
    public var nodeID: UInt64 = 1
    /// The initial voters and their peer addresses, this node included. Empty: a one-voter
    /// group of this node.
    public var peers: [UInt64: String] = [:]
    /// The Raft core's tunables (election and heartbeat ticks, windows, caps). With the
    /// default tick, heartbeats go out every 50 ms and election timeouts are drawn from
    /// [500, 1000) ms: long enough that a slow fsync of a large entry on the Raft thread (or a
    /// starved CPU) does not depose a healthy leader.
    public var raft = RaftConfiguration()
    /// Wall time of one Raft tick.
    public var tickInterval: Duration = .milliseconds(50)
    /// How long a write waits to be applied (including waiting for a leader) before it fails.
    public var proposalTimeout: Duration = .seconds(10)
    /// How long a linearizable read waits for a confirmed read point.
    public var readTimeout: Duration = .seconds(5)
    /// On graceful shutdown, how long the leader waits for another voter to take over.
    public var handOffTimeout: Duration = .seconds(3)
    /// Longest the leader's Raft thread waits for proposals that are on their way back to
    /// fill an entry as large as the previous one (also capped by the last fsync's duration).
    /// Zero disables lingering.
    public var maxLinger: Duration = .microseconds(500)
    /// At most this many commands are coalesced into one log entry.
    public var maxCommandsPerEntry: Int = 4096
    /// At most about this many body bytes are coalesced into one log entry.
    public var maxBytesPerEntry: Int = 8 << 20
    /// A snapshot of the applied state is taken once this many bytes of log were written since
    /// the last one (docs/state-transfer.md §4), or `snapshotEveryEntries` entries.
    public var snapshotEveryBytes: UInt64 = 256 << 20
    public var snapshotEveryEntries: UInt64 = 100_000
    /// Where snapshot files live: `<dataDirectory>/snapshots`.
    public var snapshotDirectory: String { (dataDirectory as NSString).appendingPathComponent("snapshots") }
    /// Applied entries kept in the log before compaction (a cushion for followers that fall
    /// slightly behind, who then catch up from the log).
    public var retainedLogEntries: UInt64 = 1024
    /// The leader keeps log entries a follower still needs unless it is further behind than
    /// this many entries (it would then need a snapshot).
    public var maxFollowerLagEntries: UInt64 = 200_000
    /// The leader promotes a learner to voter once the learner has acknowledged entries and
    /// its match index is within this many entries of the leader's last index (thesis
    /// §4.2.1: a new voter that is far behind would stall commitment while it catches up).
    public var promoteLag: UInt64 = 1000
    /// A new data directory is initialized as a non-member (empty membership, no bootstrap)
    /// that waits for the leader to add it (`runnel serve --join`); `peers` then names the
    /// existing members' addresses and this node's own. Ignored once the directory exists.
    public var joinExisting = false
    /// The cluster a joining node joins (from the join answer); peers refuse another id.
    public var joinClusterID: ClusterID?
    /// Called on the thread that writes the log after every synced write with the number of entries it
    /// carried and how long the write took (metrics hang off it).
    public var onEntrySynced: (@Sendable (_ entries: Int, _ nanoseconds: UInt64) -> Void)?
    /// Test hook: runs on the thread that writes the Raft log before each write, with the
    /// number of entries it carries (a test makes one node's disk slow with it).
    public var beforeLogWrite: (@Sendable (_ entries: Int) -> Void)?
    /// The time source, in milliseconds since the Unix epoch. Injected for tests.
    public var clock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    /// The monotonic clock of deadlines, ticks and timings (see `MonotonicClock`).
    public var monotonicClock = MonotonicClock.continuous

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    var tickNanoseconds: UInt64 { tickInterval.wholeNanoseconds }
}

/// Counters of the commit path, for metrics and the benchmark.
public struct CommitStatistics: Sendable {
    /// Log entries written (each one synced write).
    public var entries: UInt64 = 0
    /// Commands carried by those entries.
    public var commands: UInt64 = 0
    /// Synced log writes and their total duration.
    public var syncs: UInt64 = 0
    public var syncNanoseconds: UInt64 = 0
}

/// A node: its Raft log and applied state in one RocksDB, the Raft driver, and the published
/// view that reads use. Writes go propose → (forward to the leader) → one synced log write per
/// batch of proposals on a majority → commit → apply on every node → answer on the node the
/// client asked. A one-voter group is the same path with a majority of one (docs/cluster.md).
public final class Node: Sendable {
    public let configuration: NodeConfiguration
    let storage: NodeStorage
    public let log: LogStore
    public let state: StateStore
    let view: Mutex<PublishedView>
    private let waiters = Waiters()
    let applier: ApplyLoop
    let driver: RaftDriver
    private let sequence = Atomic<UInt64>(0)
    /// The latest role change (only `handOffLeadership` listens).
    private let roleChanges: AsyncStream<RaftRole>
    /// This node's id (from its data).
    public let nodeID: UInt64
    /// Peer addresses by node id: from the data directory, updated from flags and from the
    /// configuration entries that add members.
    public var peerAddresses: [UInt64: String] { driver.knownAddresses.withLock { $0 } }
    /// The cluster this node belongs to and its data directory's incarnation.
    public let identity: ClusterIdentity
    let logger: Logger

    /// Opens (creating if needed) the node in `configuration.dataDirectory` and starts its Raft
    /// and apply threads. A new data directory is initialized with `configuration.nodeID` and
    /// `peers`; an existing one keeps its own identity and membership. Frames from peers
    /// arrive through ``receive(_:from:)``; frames to them leave through `transport`.
    public init(configuration: NodeConfiguration, transport: (any PeerTransport)? = nil, logger: Logger) throws(StorageError) {
        self.configuration = configuration
        self.logger = logger
        let dbPath = (configuration.dataDirectory as NSString).appendingPathComponent("db")
        do {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw StorageError(.io, "cannot create data directory \(configuration.dataDirectory): \(error)")
        }
        storage = try NodeStorage(path: dbPath)
        log = storage.log
        state = storage.state

        // Identity and membership come from the data once it exists (api.md §4).
        var addresses = configuration.peers
        let identity: ClusterIdentity
        let admission: Admission
        if let stored = try log.nodeID() {
            guard stored == configuration.nodeID || configuration.peers.isEmpty && configuration.nodeID == 1 else {
                throw StorageError(.corruption, "the data directory belongs to node \(stored), not node \(configuration.nodeID)")
            }
            nodeID = stored
            addresses = try log.peerAddresses().merging(configuration.peers) { _, flag in flag }
            try log.setPeerAddresses(addresses)
            if let storedIdentity = try log.clusterIdentity() {
                identity = storedIdentity
            } else {
                // A data directory from before cluster identities: derive the id as a fresh
                // cluster with these peers would, and give it an incarnation.
                identity = ClusterIdentity(
                    clusterID: addresses.count > 1 ? .derived(fromPeers: addresses) : .random(),
                    incarnation: ClusterIdentity.newIncarnation())
                try log.setClusterIdentity(identity)
            }
            admission = try log.admission()
        } else if configuration.joinExisting {
            nodeID = configuration.nodeID
            // It asks the leader to admit it as this incarnation (RaftDriver+Admission), and
            // learns the membership from the leader once it is a learner.
            identity = ClusterIdentity(clusterID: configuration.joinClusterID ?? .none, incarnation: ClusterIdentity.newIncarnation())
            admission = .awaitingAdmission
            try log.initialize(nodeID: nodeID, peers: addresses, identity: identity, admission: admission, state: nil)
            logger.info("initialized a new node outside the cluster; waiting to be added", metadata: [
                "node": "\(nodeID)", "peers": "\(addresses)"])
        } else {
            nodeID = configuration.nodeID
            guard configuration.peers.isEmpty || configuration.peers[nodeID] != nil else {
                throw StorageError(.corruption, "--peers must include this node (\(nodeID))")
            }
            if configuration.peers.count > 1 {
                // Several initial voters: ask them before bootstrapping (RaftDriver+Admission).
                identity = ClusterIdentity(clusterID: .derived(fromPeers: addresses), incarnation: ClusterIdentity.newIncarnation())
                admission = .probing
                try log.initialize(nodeID: nodeID, peers: addresses, identity: identity, admission: admission, state: nil)
                logger.info("initialized a new node; asking its peers whether the cluster exists", metadata: [
                    "node": "\(nodeID)", "peers": "\(addresses.keys.sorted())"])
            } else {
                identity = ClusterIdentity(clusterID: .random(), incarnation: ClusterIdentity.newIncarnation())
                admission = .member
                try log.initialize(nodeID: nodeID, peers: addresses, identity: identity, admission: admission,
                                   state: .bootstrap(voters: [nodeID]))
                logger.info("initialized a new single-node cluster", metadata: ["node": "\(nodeID)"])
            }
        }
        self.identity = identity
        // An install a crash interrupted is redone before anything reads the state (§3).
        if try storage.redoInterruptedInstall(snapshotDirectory: configuration.snapshotDirectory) != nil {
            logger.info("finished a snapshot install that a stop interrupted")
        }
        guard var persistent = try log.persistentState() else {
            throw StorageError(.corruption, "raft state missing")
        }
        let (model, applied) = try state.load()
        persistent.appliedIndex = applied
        // The latest complete snapshot file is what this node serves to followers.
        if let latest = try SnapshotDirectory(path: configuration.snapshotDirectory).latest(),
           latest.index >= (persistent.snapshot?.index ?? 0), latest.index <= applied,
           let header = try? SnapshotFile.header(path: latest.path) {
            persistent.availableSnapshot = Snapshot(metadata: header.metadata, size: latest.size)
        }
        let snapshotIndex = persistent.snapshot?.index ?? 0
        guard applied >= snapshotIndex else {
            throw StorageError(.corruption, "applied state (\(applied)) is behind the log's compaction point (\(snapshotIndex))")
        }
        var lastTime: Int64 = 0
        for entry in persistent.entries where entry.kind == .normal {
            if let t = CommandBatch.time(of: entry.data) { lastTime = max(lastTime, t) }
        }
        var raft = configuration.raft
        raft.randomSeed = UInt64.random(in: 1...UInt64.max)
        let node = RaftNode(id: nodeID, configuration: raft, state: persistent, entrySource: LogStoreEntrySource(log: log))

        view = Mutex(PublishedView(model: model, appliedIndex: applied))
        applier = ApplyLoop(nodeID: nodeID, state: state, model: model, appliedIndex: applied, waiters: waiters, logger: logger)
        driver = RaftDriver(
            id: nodeID, node: node, configuration: configuration, log: log, applier: applier, waiters: waiters,
            transport: transport, addresses: addresses, lastTime: lastTime, logger: logger,
            identity: identity, admission: admission,
            initialVoters: configuration.peers.isEmpty ? [nodeID] : Array(configuration.peers.keys))
        let (roles, roleContinuation) = AsyncStream.makeStream(of: RaftRole.self, bufferingPolicy: .bufferingNewest(1))
        roleChanges = roles
        applier.onApplied = { [weak self] changes in
            self?.view.withLock { $0.publish(changes) }
        }
        applier.onFailure = { [waiters] error in waiters.close(error) }
        applier.onLost = { [driver] lost in driver.reroute(lost) }
        applier.onInstalled = { [weak self] model, applied in
            self?.view.withLock { $0 = PublishedView(model: model, appliedIndex: applied) }
        }
        applier.finishInstall = { [log] () throws(StorageError) in try log.finishInstall() }
        driver.prepareSnapshots()
        driver.onRoleChange = { roleContinuation.yield($0) }
        applier.start()
        driver.start()
    }

    /// Proposes `command` and returns its result once a majority has it durably and this node
    /// has applied it. Fails with `unavailable` when no leader takes it in time (nothing was
    /// applied) and with `timeout` when a leader took it but it was not acknowledged in time.
    public func propose(_ command: Command) async throws(ReplicationError) -> CommandResult {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<CommandResult, ReplicationError>, Never>) in
            propose(command) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// `propose` for a caller that is not a task (an event loop): `complete` is called once,
    /// on the thread that answers, with the result or the error `propose` would throw.
    public func propose(_ command: Command, complete: @escaping ProposalCompletion) {
        do { try checkAdmitted() } catch {
            complete(.failure(error))
            return
        }
        let seq = sequence.add(1, ordering: .relaxed).newValue
        let tagged = TaggedCommand(tag: ProposalTag(origin: nodeID, seq: seq), command: Codec.encoded(command))
        let deadline = configuration.monotonicClock.nanoseconds() + configuration.proposalTimeout.wholeNanoseconds
        guard waiters.register(seq: seq, complete, deadline: deadline) else { return }
        if let error = driver.submit(tagged) { waiters.fail([seq], error) }
    }

    /// Returns once this node has applied everything committed before the call (ReadIndex,
    /// Raft thesis §6.4): a read served after it is linearizable.
    public func readBarrier() async throws(ReplicationError) {
        try checkAdmitted()
        let id = sequence.add(1, ordering: .relaxed).newValue
        let deadline = configuration.monotonicClock.nanoseconds() + configuration.readTimeout.wholeNanoseconds
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                guard waiters.register(read: id, continuation, deadline: deadline) else { return }
                if let error = driver.submitRead(id) { waiters.failRead(id, error) }
            }
        } catch let error as ReplicationError {
            throw error
        } catch {
            throw ReplicationError(.storage, "\(error)")
        }
    }

    /// A node waiting to be admitted (joining, or after losing its data) cannot commit or confirm anything:
    /// say so at once instead of timing out.
    private func checkAdmitted() throws(ReplicationError) {
        switch clusterStatus.admission {
        case .member, .probing: return  // a probing node is about to have a leader, or not: wait
        case .awaitingAdmission: throw ReplicationError(.unavailable, "this node is waiting to be admitted to the cluster")
        }
    }

    /// Takes a snapshot of the applied state now and compacts the log behind it
    /// (`POST /admin/v1/snapshot`); returns the snapshot's log index.
    public func takeSnapshot() async throws(ReplicationError) -> UInt64 {
        try checkAdmitted()
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<UInt64, ReplicationError>, Never>) in
            driver.requestSnapshot { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// True while a snapshot from the leader is being installed: nothing may read the state.
    public var isInstallingSnapshot: Bool { applier.installing.load(ordering: .sequentiallyConsistent) }

    /// A frame from a peer, handed over by the transport.
    public func receive(_ frame: PeerFrame, from peer: UInt64) {
        driver.receive(frame, from: peer)
    }

    /// Role, term, leader and replication progress as the Raft thread last published them.
    public var clusterStatus: ClusterStatus { driver.status.withLock { $0 } }

    /// Asks the Raft core to hand leadership to `target` (or the most caught-up voter).
    public func transferLeadership(to target: UInt64? = nil) {
        driver.perform { node in
            guard node.role == .leader else { return }
            let candidates = node.followers.filter { !$0.isLearner && node.membership.isVoter($0.id) }
            guard let to = target ?? candidates.max(by: { $0.match < $1.match })?.id else { return }
            try? node.transferLeadership(to: to)
        }
    }

    /// Adds node `id`, reached at `address` (`HOST:PORT`), as a learner; the leader promotes it
    /// to voter once it has caught up within ``NodeConfiguration/promoteLag`` (api.md §3). Any
    /// node may be asked: the request goes to the leader over the peer transport, from a node
    /// that is not a member yet too. Adding a member again with its address changes nothing
    /// (`changed == false`); with `replace`, a member is removed and then added again as a
    /// learner (a node that lost its disk), as two changes driven by the leader.
    ///
    /// Throws `membershipChangeInProgress` while another change is uncommitted or a learner
    /// awaits promotion, `memberConflict` for a member at another address (without
    /// `replace`), `invalidRequest` for a bad id or address, `unavailable` when no leader
    /// answered within ``NodeConfiguration/proposalTimeout``.
    public func addMember(id: UInt64, address: String, replace: Bool = false) async throws(ReplicationError) -> MemberChange {
        try await changeMembership(MembershipRequest(action: replace ? .replace : .add, member: id, address: address))
    }

    /// Removes member `id` (api.md §3). Removing the leader is allowed: it keeps leading until
    /// the change commits, then hands leadership to an up-to-date voter and steps down (thesis
    /// §4.2.2). Removing a learner that awaits promotion is allowed while nothing else is in
    /// flight (abandoning a join). Throws `memberNotFound` for an id that is not a member, and
    /// otherwise as ``addMember(id:address:replace:)``.
    public func removeMember(id: UInt64) async throws(ReplicationError) -> MemberChange {
        try await changeMembership(MembershipRequest(action: .remove, member: id))
    }

    private func changeMembership(_ request: MembershipRequest) async throws(ReplicationError) -> MemberChange {
        let seq = sequence.add(1, ordering: .relaxed).newValue
        let answer = await withCheckedContinuation { (continuation: CheckedContinuation<MembershipAnswer, Never>) in
            driver.submitMembership(request, seq: seq) { continuation.resume(returning: $0) }
        }
        let change = MemberChange(member: request.member, address: answer.address, voter: answer.voter, index: answer.index,
                                  changed: answer.outcome == .accepted)
        switch answer.outcome {
        case .accepted, .unchanged: return change
        case .inProgress: throw ReplicationError(.membershipChangeInProgress, answer.message)
        case .notFound: throw ReplicationError(.memberNotFound, answer.message)
        case .conflict: throw ReplicationError(.memberConflict, answer.message)
        case .invalid: throw ReplicationError(.invalidRequest, answer.message)
        case .notLeader, .unavailable: throw ReplicationError(.unavailable, answer.message)
        }
    }

    /// How long a graceful shutdown waits for another node to take over leadership.
    public var handOffTimeout: Duration { configuration.handOffTimeout }

    /// If this node leads a group with other voters, hands leadership over and waits (up to
    /// `timeout`) until another node leads, so a restart does not stall writes (api.md §4).
    public func handOffLeadership(timeout: Duration) async {
        guard clusterStatus.role == .leader, clusterStatus.membership.voters.count > 1 else { return }
        logger.info("handing leadership over before shutdown")
        transferLeadership()
        // Woken by the role change itself, or by the timeout, whichever comes first.
        await withTaskGroup(of: Void.self) { [roleChanges] group in
            group.addTask {
                for await role in roleChanges where role != .leader { return }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Stops the Raft and apply threads (applying what is committed), fails whoever still
    /// waits, and closes the database.
    public func shutdown() {
        driver.stop()
        driver.closeMembershipCallers("the node is shutting down")
        applier.stop()
        waiters.close(ReplicationError(.closed, "the node is shutting down"))
        do { try storage.close() } catch {
            logger.warning("closing RocksDB: \(error)")
        }
    }

    /// The current stream at `path` as a read at `now` sees it (`nil` if absent or expired).
    public func stream(at path: StreamPath, now: Int64) -> StreamMeta? {
        view.withLock { $0.model.stream(at: path, now: now) }
    }

    public func stream(id: UInt64) -> StreamMeta? {
        view.withLock { $0.model.stream(id: id) }
    }

    /// The API key with `id` in the applied state (docs/access-control.md).
    public func apiKey(id: String) -> APIKey? {
        view.withLock { $0.model.apiKeys[id] }
    }

    /// Every API key in the applied state, by id.
    public var apiKeys: [APIKey] {
        view.withLock { $0.model.apiKeys.values.sorted { $0.id < $1.id } }
    }

    public func bucket(_ name: String) -> BucketMeta? {
        view.withLock { $0.model.buckets[name] }
    }

    /// A bucket and the bytes it stores in this node's applied state, for an early refusal
    /// (`BucketMeta.checkRoom`). The published view holds no snapshot uploads in progress, so
    /// this may be below what the state machine counts; the state machine decides.
    public func bucketUsage(_ name: String) -> (bucket: BucketMeta, stored: UInt64)? {
        view.withLock { view in view.model.buckets[name].map { ($0, view.model.storedBytes(ofBucket: name)) } }
    }

    /// Streams in the applied state (soft-deleted ones included).
    public var streamCount: Int { view.withLock { $0.model.streams.count } }

    /// The stream at `path` as `stream(at:now:)` sees it, with the applied index of that same
    /// view: operator inspection reads this node's applied state, and says how far it got.
    public func inspectStream(at path: StreamPath, now: Int64) -> (meta: StreamMeta?, appliedIndex: UInt64) {
        view.withLock { ($0.model.stream(at: path, now: now), $0.appliedIndex) }
    }

    /// Every bucket's totals in this node's applied state (`StreamModel.bucketTotals`), with the
    /// applied index of that state. One pass over the streams, under the view's lock: a sum
    /// per stream, no allocation per stream, so readers and the apply loop wait little.
    public func bucketTotals() -> (buckets: [BucketTotals], appliedIndex: UInt64) {
        view.withLock { ($0.model.bucketTotals(), $0.appliedIndex) }
    }

    /// The index of the last applied log entry.
    public var appliedIndex: UInt64 { view.withLock { $0.appliedIndex } }

    /// Commit path counters.
    public var statistics: CommitStatistics { driver.statistics }

    /// Reads `meta` from `from`, at most about `maxBytes`.
    public func read(_ meta: StreamMeta, from: Offset, maxBytes: Int) throws(StorageError) -> ReadChunk {
        guard !isInstallingSnapshot else { throw StorageError(.unavailable, "a snapshot is being installed") }
        // Fork sources are immutable below the fork offset, so resolving them one by one
        // (rather than from one consistent snapshot) is safe.
        return try state.read(meta, from: from, maxBytes: maxBytes) { id in view.withLock { $0.model.stream(id: id) } }
    }

    /// Registers a callback run after every applied batch with the ids of streams that
    /// changed (new data, closure, deletion); live readers hang off it.
    public func onChange(_ callback: @escaping @Sendable (Set<UInt64>) -> Void) {
        applier.addListener(callback)
    }

}

/// The state reads see: updated only after the apply batch that produced it is written, so
/// a reader never sees a tail whose units are not yet readable.
struct PublishedView: Sendable {
    var model: StreamModel
    var appliedIndex: UInt64

    mutating func publish(_ changes: AppliedChanges) {
        for (path, meta) in changes.streams { model.install(meta, at: path) }
        for (name, bucket) in changes.buckets { model.install(bucket, named: name) }
        for (id, key) in changes.keys { model.install(key, id: id) }
        appliedIndex = changes.appliedIndex
    }
}

/// What one apply round hands to readers: the rows it changed.
struct AppliedChanges: Sendable {
    var streams: [(StreamPath, StreamMeta?)]
    var buckets: [(String, BucketMeta?)]
    var keys: [(String, APIKey?)] = []
    var appliedIndex: UInt64
    var woken: Set<UInt64>
}

extension Node {
    /// The stored data unit of `meta`'s stream that starts exactly at `offset`, following the
    /// fork chain below the fork offset; `nil` if no unit starts there.
    public func unit(of meta: StreamMeta, at offset: Offset) throws(StorageError) -> [UInt8]? {
        var current = meta
        while offset < current.base, let origin = current.fork {
            guard let source = stream(id: origin.sourceID) else { return nil }
            current = source
        }
        return try state.unit(of: current.id, at: offset.position)
    }
}

extension Node {
    /// Chunk `index` of snapshot blob `blobID` (docs/stream-snapshots.md), or `nil` if it is
    /// gone (the snapshot was deleted after the caller looked it up).
    public func snapshotChunk(blobID: UInt64, index: UInt32) throws(StorageError) -> [UInt8]? {
        guard !isInstallingSnapshot else { throw StorageError(.unavailable, "a snapshot is being installed") }
        return try state.snapshotChunk(blobID: blobID, index: index)
    }

    /// Whether `offset` is a message boundary of `meta`'s stream (where a stream snapshot or
    /// retention may point).
    public func isMessageBoundary(_ meta: StreamMeta, at offset: Offset) throws(StorageError) -> Bool {
        guard !isInstallingSnapshot else { throw StorageError(.unavailable, "a snapshot is being installed") }
        return try state.isMessageBoundary(meta, offset) { id in stream(id: id) }
    }
}
