import HTTPTypes
import Prometheus
import Replication
import Storage
import Synchronization

/// The node's Prometheus metrics (api.md §3): requests by route, method and status with
/// latency histograms, the commit path (entries, commands per entry, fsync latency), applied
/// index, live readers and stored streams. `/metrics` renders them in the text format.
public final class RunnelMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let fsync: DurationHistogram
    private let commandsPerEntry: ValueHistogram
    private let applied: Gauge
    private let commit: Gauge
    private let term: Gauge
    private let role: Gauge
    private let liveReaders: Gauge
    private let streams: Gauge
    private let proposedCommands: Counter
    /// The storage's count of proposed commands at the last render; the counter advances by
    /// the difference.
    private let lastProposed = Mutex<UInt64>(0)
    private let sseWriteTimeouts: Counter
    private let sseFanoutEvents: Counter
    /// `runnel_auth_requests_total` by credential kind (nil: none) and outcome: made up
    /// front, a closed set.
    private let authentications: [Principal.Kind?: [AuthOutcome: Counter]]

    enum AuthOutcome: String, CaseIterable {
        case allowed, unauthenticated, forbidden, rateLimited = "rate_limited"
    }

    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(500),
        .seconds(1), .seconds(5), .seconds(30),
    ]

    public init() {
        fsync = registry.makeDurationHistogram(
            descriptor: .init(namespace: "runnel", metricName: "log_fsync", unitName: "seconds",
                              helpText: "Duration of synced Raft log writes."),
            labels: [], buckets: Self.latencyBuckets)
        commandsPerEntry = registry.makeValueHistogram(
            descriptor: .init(namespace: "runnel", metricName: "entries_per_sync",
                              helpText: "Log entries written by one synced log write."),
            labels: [], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096])
        applied = registry.makeGauge(descriptor: .init(namespace: "runnel", metricName: "raft_applied_index",
                                                       helpText: "Index of the last applied log entry."))
        commit = registry.makeGauge(descriptor: .init(namespace: "runnel", metricName: "raft_commit_index",
                                                      helpText: "Highest log index this node knows committed."))
        term = registry.makeGauge(descriptor: .init(namespace: "runnel", metricName: "raft_term",
                                                    helpText: "Current Raft term."))
        role = registry.makeGauge(descriptor: .init(namespace: "runnel", metricName: "raft_is_leader",
                                                    helpText: "1 while this node is the Raft leader."))
        liveReaders = registry.makeGauge(descriptor: .init(namespace: "runnel", metricName: "live_readers",
                                                           helpText: "Long-poll and SSE readers waiting for data."))
        streams = registry.makeGauge(descriptor: .init(namespace: "runnel", metricName: "streams",
                                                       helpText: "Streams stored on this node, soft-deleted ones included."))
        // Over runnel_entries_per_sync's _sum (entries) and _count (synced writes): commands
        // per entry and per fsync, i.e. how well group commit works.
        proposedCommands = registry.makeCounter(descriptor: .init(
            namespace: "runnel", metricName: "proposed_commands", unitName: "total",
            helpText: "Commands this node proposed as leader, forwarded ones included."))
        sseWriteTimeouts = registry.makeCounter(
            descriptor: .init(namespace: "runnel", metricName: "sse_write_timeouts", unitName: "total",
                              helpText: "SSE connections closed because the reader did not read within --sse-write-timeout."))
        sseFanoutEvents = registry.makeCounter(
            descriptor: .init(namespace: "runnel", metricName: "sse_fanout_writes", unitName: "total",
                              helpText: "Batches of SSE events written to readers at their stream's tail by the shared fan-out (one per reader per batch)."))
        var authentications: [Principal.Kind?: [AuthOutcome: Counter]] = [:]
        for credential in [nil] + Principal.Kind.allCases {
            for outcome in AuthOutcome.allCases {
                authentications[credential, default: [:]][outcome] = registry.makeCounter(
                    descriptor: .init(namespace: "runnel", metricName: "auth_requests", unitName: "total",
                                      helpText: "Requests that needed credentials, by the kind of credential and the outcome."),
                    labels: [("credential", credential?.rawValue ?? "none"), ("outcome", outcome.rawValue)])
            }
        }
        self.authentications = authentications
    }

    /// Counts one request that needed credentials (`credential` nil: none given).
    func recordAuthentication(_ credential: Principal.Kind?, _ outcome: AuthOutcome) {
        authentications[credential]?[outcome]?.increment()
    }

    /// The storage hook (`NodeConfiguration.onEntrySynced`) that feeds the commit metrics.
    public var entrySynced: @Sendable (Int, UInt64) -> Void {
        { [fsync, commandsPerEntry] commands, nanoseconds in
            fsync.recordNanoseconds(Int64(nanoseconds))
            commandsPerEntry.record(Double(commands))
        }
    }

    /// One SSE connection closed for a write that missed its deadline (`DeadlineWriter`).
    func sseWriteTimedOut() { sseWriteTimeouts.increment() }

    /// `count` readers were written one batch by `SSEFanout`.
    func sseFanoutWrote(_ count: Int) { sseFanoutEvents.increment(by: Int64(count)) }

    /// Counts one request. Every label comes from a closed set (`methodLabel`,
    /// `statusLabel`, `Route.metricLabel`), so no client can grow `/metrics` without bound.
    func recordRequest(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, duration: Duration) {
        let key = RequestKey(route: route, method: Self.methodLabel(method), status: Self.statusLabel(status))
        let series = requestSeries.withLock { $0[key] } ?? makeSeries(key)
        series.count.increment()
        series.duration.record(duration)
    }

    /// The labels of one request series.
    private struct RequestKey: Hashable {
        var route: String
        var method: String
        var status: String
    }

    /// The counter and histogram of each request series, found once in the registry: looking
    /// them up there on every request cost more than the request's own bookkeeping.
    private let requestSeries = Mutex<[RequestKey: (count: Counter, duration: DurationHistogram)]>([:])

    private func makeSeries(_ key: RequestKey) -> (count: Counter, duration: DurationHistogram) {
        let labels = [("route", key.route), ("method", key.method), ("status", key.status)]
        let series = (
            count: registry.makeCounter(
                descriptor: .init(namespace: "runnel", metricName: "http_requests", unitName: "total",
                                  helpText: "HTTP requests by route, method and status."),
                labels: labels),
            duration: registry.makeDurationHistogram(
                descriptor: .init(namespace: "runnel", metricName: "http_request_duration", unitName: "seconds",
                                  helpText: "HTTP request latency by route, method and status."),
                labels: labels, buckets: Self.latencyBuckets))
        requestSeries.withLock { $0[key] = series }
        return series
    }

    /// The methods counted under their own name; any other token is `other`.
    static let labelledMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]

    /// The statuses this server answers, counted by code; any other is counted by class
    /// (`2xx` … `5xx`, `other`).
    static let labelledStatuses: Set<Int> = [
        200, 201, 202, 204, 304, 307, 400, 401, 403, 404, 405, 409, 410, 412, 413, 417, 429, 499,
        500, 501, 503, 507,
    ]

    /// The `method` label of a request: bounded whatever token the client sent.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        labelledMethods.contains(method.rawValue) ? method.rawValue : "other"
    }

    /// The `status` label of a response: the code if known, else its class.
    static func statusLabel(_ status: HTTPResponse.Status) -> String {
        if labelledStatuses.contains(status.code) { return String(status.code) }
        return (100...599).contains(status.code) ? "\(status.code / 100)xx" : "other"
    }

    /// The text exposition, with point-in-time gauges refreshed first.
    func render(store: Node, waiters: LiveWaiters) -> [UInt8] {
        applied.set(Double(store.appliedIndex))
        let status = store.clusterStatus
        commit.set(Double(status.commitIndex))
        term.set(Double(status.term))
        role.set(status.role == .leader ? 1.0 : 0.0)
        liveReaders.set(Double(waiters.count))
        streams.set(Double(store.streamCount))
        // Read under the lock, so that concurrent renders see increasing counts.
        let proposed = lastProposed.withLock { last in
            let now = store.statistics.commands
            defer { last = now }
            return now - last
        }
        proposedCommands.increment(by: Int64(proposed))
        return registry.emitToBuffer()
    }
}

extension Route {
    /// A low-cardinality label for metrics.
    var metricLabel: String {
        switch self {
        case .stream(let family, _):
            switch family {
            case .ds: "ds_stream"
            case .legacy: "legacy_stream"
            case .v1: "v1_stream"
            }
        case .streamResource(_, let resource):
            switch resource {
            case .latestSnapshot, .snapshot: "ds_snapshot"
            case .bootstrap: "ds_bootstrap"
            case .retention: "ds_retention"
            }
        case .bucket: "bucket"
        case .bucketStreams: "bucket_streams"
        case .health: "healthz"
        case .ready: "readyz"
        case .metrics: "metrics"
        case .admin: "admin"
        case .invalid: "invalid"
        case .notFound: "not_found"
        }
    }
}
