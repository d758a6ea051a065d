import Foundation

/// What a fuzz run does: which seeds, how many cases of each transport per seed, time and
/// deadline budgets. `make test` runs the defaults; `make fuzz` sets the environment.
public struct FuzzConfiguration: Sendable {
    /// One run per seed, each against fresh nodes, so a seed replays on its own.
    public var seeds: [UInt64]
    /// HTTP/1.1 cases per seed.
    public var requests: Int
    /// HTTP/2 cases per seed (0 skips the TLS node).
    public var http2Requests: Int
    /// Stops starting new cases once the whole run has taken this long (nil: no limit).
    public var duration: Duration?
    /// How long a complete request may go unanswered before it is a hang.
    public var deadline: Duration
    /// `/healthz` is checked every this many cases (and at the end).
    public var healthEvery: Int
    /// Only this case index (with `transport`), to replay one case against a fresh node.
    public var only: Int?
    /// Only this transport, when set.
    public var transport: FuzzCase.Transport?
    /// Finding kinds to leave out of the verdict. For local iteration only; empty by default.
    public var ignoredKinds: Set<FuzzFinding.Kind>
    /// With a value, slow-client probes (`FuzzIdleProbe`) must have been closed by the server
    /// this long after they stalled. Off in the short budget, which runs for less than any
    /// sensible server timeout; `make fuzz` sets it.
    public var idleLimit: Duration?
    /// Print every case's label and outcome.
    public var verbose = false
    /// The node's body limit (`--max-body-bytes`), small so that bodies past it are cheap.
    public var maxBodyBytes: Int

    public init(seeds: [UInt64], requests: Int, http2Requests: Int, duration: Duration? = nil, deadline: Duration = .seconds(10),
                healthEvery: Int = 25, only: Int? = nil, transport: FuzzCase.Transport? = nil,
                ignoredKinds: Set<FuzzFinding.Kind> = [], maxBodyBytes: Int = 256 * 1024) {
        self.seeds = seeds
        self.requests = requests
        self.http2Requests = http2Requests
        self.duration = duration
        self.deadline = deadline
        self.healthEvery = healthEvery
        self.only = only
        self.transport = transport
        self.ignoredKinds = ignoredKinds
        self.maxBodyBytes = maxBodyBytes
    }

    /// The short budget of `make test`, overridden by `RUNNEL_FUZZ_SEED` / `RUNNEL_FUZZ_SEEDS`
    /// (`3`, `1,2,5`, `1-8`), `RUNNEL_FUZZ_REQUESTS`, `RUNNEL_FUZZ_HTTP2_REQUESTS`,
    /// `RUNNEL_FUZZ_DURATION` (seconds), `RUNNEL_FUZZ_DEADLINE` (seconds), `RUNNEL_FUZZ_CASE`,
    /// `RUNNEL_FUZZ_TRANSPORT` (`http1`, `http2`), `RUNNEL_FUZZ_IDLE_LIMIT` (seconds),
    /// `RUNNEL_FUZZ_VERBOSE` and `RUNNEL_FUZZ_IGNORE` (kinds, for local iteration only).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> FuzzConfiguration {
        var configuration = FuzzConfiguration(seeds: [1, 2], requests: 300, http2Requests: 60)
        if let text = environment["RUNNEL_FUZZ_SEEDS"] ?? environment["RUNNEL_FUZZ_SEED"], let seeds = parseSeeds(text), !seeds.isEmpty {
            configuration.seeds = seeds
        }
        if let n = environment["RUNNEL_FUZZ_REQUESTS"].flatMap({ Int($0) }) { configuration.requests = n }
        if let n = environment["RUNNEL_FUZZ_HTTP2_REQUESTS"].flatMap({ Int($0) }) { configuration.http2Requests = n }
        if let s = environment["RUNNEL_FUZZ_DURATION"].flatMap({ Double($0) }), s > 0 { configuration.duration = .milliseconds(Int64(s * 1000)) }
        if let s = environment["RUNNEL_FUZZ_DEADLINE"].flatMap({ Double($0) }), s > 0 { configuration.deadline = .milliseconds(Int64(s * 1000)) }
        if let s = environment["RUNNEL_FUZZ_IDLE_LIMIT"].flatMap({ Double($0) }), s > 0 { configuration.idleLimit = .milliseconds(Int64(s * 1000)) }
        configuration.verbose = environment["RUNNEL_FUZZ_VERBOSE"].map { !$0.isEmpty && $0 != "0" } ?? false
        configuration.only = environment["RUNNEL_FUZZ_CASE"].flatMap { Int($0) }
        configuration.transport = environment["RUNNEL_FUZZ_TRANSPORT"].flatMap { FuzzCase.Transport(rawValue: $0) }
        configuration.ignoredKinds = Set((environment["RUNNEL_FUZZ_IGNORE"] ?? "").split(separator: ",").compactMap {
            FuzzFinding.Kind(rawValue: $0.trimmingCharacters(in: .whitespaces))
        })
        return configuration
    }

    /// `3`, `1,2,5` or `1-8`.
    static func parseSeeds(_ text: String) -> [UInt64]? {
        var seeds: [UInt64] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-").map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
            if bounds.count == 2, let low = bounds[0], let high = bounds[1], low <= high, high - low < 10_000 {
                seeds += Array(low...high)
            } else if bounds.count == 1, let seed = bounds[0] {
                seeds.append(seed)
            } else {
                return nil
            }
        }
        return seeds
    }
}
