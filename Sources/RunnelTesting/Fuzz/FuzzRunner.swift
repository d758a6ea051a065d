import Foundation

/// Drives a fuzz run: for each seed, a fresh plain node for the HTTP/1.1 cases and a fresh
/// TLS node for the HTTP/2 cases. Canaries are planted first; each case is checked by
/// `FuzzOracle`; liveness is checked every `healthEvery` cases and after any case the server
/// ended abruptly; a crashed node is reported and restarted on its data; at the end health,
/// canaries and metrics labels are checked.
public struct FuzzRunner: Sendable {
    public var configuration: FuzzConfiguration
    /// Progress lines (seed starts and ends, crashes).
    public var log: @Sendable (String) -> Void
    /// Restarts after crashes per node before the seed's run is abandoned.
    static let maxRestarts = 3

    public init(configuration: FuzzConfiguration, log: @escaping @Sendable (String) -> Void = { print($0) }) {
        self.configuration = configuration
        self.log = log
    }

    public func run() async throws -> FuzzReport {
        var report = FuzzReport()
        let clock = ContinuousClock()
        let start = clock.now
        let certificates = RunnelProcess.temporaryDirectory("fuzz-certs")
        defer { try? FileManager.default.removeItem(atPath: certificates) }
        let tls = configuration.http2Requests > 0 && configuration.transport != .http1
            ? try TestCertificate.selfSigned(in: certificates) : nil
        for seed in configuration.seeds {
            if configuration.transport != .http2, configuration.requests > 0 {
                try await run(seed: seed, transport: .http1, tls: nil, report: &report, start: start)
            }
            if let tls {
                try await run(seed: seed, transport: .http2, tls: tls, report: &report, start: start)
            }
        }
        report.elapsed = clock.now - start
        return report
    }

    /// Plants the canaries and fixtures. The node closes a connection idle for 3 s, which a
    /// machine loaded by the rest of `make test` can make the planter's: a failed attempt is
    /// retried on a fresh connection (each canary records what it reads back, so a retried
    /// append is harmless).
    private func plant(_ node: FuzzNode) async throws -> [FuzzCanaries.Canary] {
        var attempt = 1
        while true {
            let planter = try await node.client()
            do {
                let canaries = try await FuzzCanaries.plant(planter)
                try await FuzzFixtures.plant(planter)
                await planter.close()
                return canaries
            } catch {
                await planter.close()
                guard attempt < 3 else { throw error }
                log("fuzz: planting failed (\(error)); retrying on a new connection")
                attempt += 1
            }
        }
    }

    private func run(seed: UInt64, transport: FuzzCase.Transport, tls: (cert: String, key: String)?,
                     report: inout FuzzReport, start: ContinuousClock.Instant) async throws {
        let node = FuzzNode(name: "fuzz-\(seed)-\(transport.rawValue)", maxBodyBytes: configuration.maxBodyBytes, tls: tls)
        defer { node.stop() }
        try await node.start()
        let canaries = try await plant(node)

        let count = transport == .http1 ? configuration.requests : configuration.http2Requests
        let indices = configuration.only.map { [$0] } ?? Array(0..<count)
        log("fuzz: seed \(seed) \(transport.rawValue): \(indices.count) cases on port \(node.port)")
        let idleProbe = transport == .http1 && configuration.idleLimit != nil ? await FuzzIdleProbe(port: node.port) : nil
        var restarts = 0
        var recent: [String] = []
        for index in indices {
            if let duration = configuration.duration, ContinuousClock.now - start > duration { break }
            let hostPort = "127.0.0.1:\(node.port)"
            let fuzzCase = transport == .http1
                ? FuzzGenerator(seed: seed, hostPort: hostPort, maxBodyBytes: configuration.maxBodyBytes).http1Case(index)
                : FuzzHTTP2Generator(seed: seed, authority: hostPort, maxBodyBytes: configuration.maxBodyBytes).http2Case(index)
            guard !FuzzCanaries.mentioned(in: fuzzCase.bytes) else { continue }
            let outcome = await FuzzExecutor(port: node.port, trustRoot: node.trustRoot, deadline: configuration.deadline).run(fuzzCase)
            report.cases += 1
            recent = Array((recent + ["\(index) \(fuzzCase.tags.joined(separator: " "))"]).suffix(6))
            if report.slowest.map({ outcome.elapsed > $0.elapsed }) ?? true { report.slowest = (fuzzCase.label, outcome.elapsed) }
            report.findings += FuzzOracle.check(fuzzCase, outcome)
            if configuration.verbose {
                log("\(fuzzCase.label) → \(outcome.statuses) answered \(outcome.answered) closed \(outcome.closedByServer) "
                    + "timed out \(outcome.timedOut)\(outcome.goaway ? " goaway" : "") in \(outcome.elapsed)")
            }

            // A crashing node freezes while the runtime prints its backtrace, then exits: any
            // case left without an answer may be the one, so liveness is checked right away.
            let abrupt = outcome.connectError != nil || outcome.closedByServer || outcome.timedOut || outcome.answered == 0
            guard abrupt || (index + 1) % configuration.healthEvery == 0 else { continue }
            if let status = await node.health(timeout: configuration.deadline), status == 200 { continue }
            if await node.exited(within: .seconds(10)) {
                let reason = node.exitReason
                log("fuzz: seed \(seed) \(transport.rawValue) case \(index): the node exited: \(reason)")
                report.findings.append(FuzzFinding(.crash, "\(reason); cases just before: \(recent.joined(separator: " | "))", fuzzCase))
                restarts += 1
                guard restarts <= Self.maxRestarts else { return }
                try await node.restart()
            } else {
                let status = await node.health(timeout: configuration.deadline)
                report.findings.append(FuzzFinding(.unhealthy, "/healthz answered \(status.map(String.init) ?? "nothing") after this case", fuzzCase))
            }
        }

        let finalStatus = await node.health(timeout: configuration.deadline)
        if finalStatus != 200 {
            if await node.exited(within: .seconds(2)) {
                report.findings.append(FuzzFinding(.crash, "process exited by the end of seed \(seed) \(transport.rawValue): \(node.exitReason)"))
                return
            }
            report.findings.append(FuzzFinding(.unhealthy, "/healthz answered \(finalStatus.map(String.init) ?? "nothing") at the end of seed \(seed) \(transport.rawValue)"))
        }
        guard let checker = try? await node.client() else {
            report.findings.append(FuzzFinding(.unhealthy, "no connection at the end of seed \(seed) \(transport.rawValue)"))
            return
        }
        if let idleProbe, let limit = configuration.idleLimit {
            report.findings += await idleProbe.check(limit: limit, seed: seed)
        }
        report.findings += await FuzzCanaries.verify(checker, canaries)
        if let metrics = try? await checker.request("GET", "/metrics", timeout: configuration.deadline), metrics.status == 200 {
            report.findings += FuzzOracle.checkMetrics(metrics.text).map {
                var finding = $0
                finding.detail += " (seed \(seed) \(transport.rawValue))"
                return finding
            }
        }
        await checker.close()
        log("fuzz: seed \(seed) \(transport.rawValue) done")
    }
}
