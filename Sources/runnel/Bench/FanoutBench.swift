import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// `runnel bench fanout`: many `live=sse` subscribers on one stream and one writer
/// appending its send time at a fixed rate; measures publish-to-receive latency.
struct FanoutBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout", abstract: "SSE fan-out: publish-to-receive latency over HTTP.")

    @OptionGroup var client: BenchClientOptions

    @Option(help: "SSE subscribers (one connection each).")
    var subscribers = 1000

    @Option(help: "Appends per second by the writer.")
    var rate = 100

    @Option(help: "Seconds the writer appends.")
    var duration: Double = 10

    @Option(help: "Writer connections: appends go out on the tick even while earlier ones are unanswered.")
    var writerConnections = 16

    @Option(help: "Seconds to wait for the last deliveries after the writer stops.")
    var drain: Double = 5

    struct Result: BenchResult {
        var workload = "fanout"
        var subscribers: Int
        var rate: Int
        var seconds: Double
        var appended: Int
        var appendedPerS: Double
        var skippedTicks: Int
        var expected: Int
        var delivered: Int
        var reconnects: Int
        var latency: LatencySummary
        var appendLatency: LatencySummary
        var errors: [String: Int]
        var clientCpuPercent: Double

        static let columns = ["subs", "msg/s (sent)", "delivered/expected"] + LatencySummary.columns + ["append p50", "reconnects", "errors", "client CPU"]
        var cells: [String] {
            ["\(subscribers)", String(format: "%d (%.0f)", rate, appendedPerS), "\(delivered)/\(expected)"] + latency.cells
                + [String(format: "%.3f ms", appendLatency.p50Ms), "\(reconnects)",
                   errors.isEmpty ? "0" : errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "),
                   String(format: "%.0f%%", clientCpuPercent)]
        }
    }

    func validate() throws {
        guard subscribers > 0, rate > 0, duration > 0, drain >= 0, writerConnections > 0 else {
            throw ValidationError("--subscribers, --rate and --duration must be positive")
        }
    }

    func run() async throws {
        let bench = try BenchClient(options: client)
        let loops = Array(bench.group.makeIterator())
        let setup = try await bench.connect(0).get()
        try await bench.createStreams(1, contentType: "text/plain", on: setup)
        setup.close()
        let path = bench.streamPath(0)

        let counters = FanoutCounters()
        let recorders = loops.map { _ in BenchRecorder() }
        let conns = try await bench.connectAll(subscribers)
        let handles = try await startSubscribers(conns, bench: bench, path: path, counters: counters, recorders: recorders)
        try await waitUntil(seconds: 30) { counters.ready.load(ordering: .relaxed) >= subscribers }
        progress("\(subscribers) subscribers ready")

        let writerRecorder = BenchRecorder()
        let writerLoop = bench.group.next()
        var pool: [BenchConnection] = []
        for _ in 0..<writerConnections { pool.append(try await bench.connect(0, on: writerLoop).get()) }
        let writers = pool
        let cpuStart = CPUSample.now()
        let delivered: @Sendable () -> Int = { recorders.reduce(0) { $0 + $1.attempted } }
        let appended = try await withProgress(
            count: delivered,
            describe: { second, perSecond, cpu in
                String(format: "[%3ds] %8.0f deliveries/s  appended %d  reconnects %d  client CPU %.0f%%", second, perSecond,
                       writerRecorder.attempted, counters.reconnects.load(ordering: .relaxed), cpu)
            }
        ) {
            let sent = try await writerLoop.flatSubmit {
                RateWriter(connections: writers, path: path, rate: rate, seconds: duration, recorder: writerRecorder).start()
            }.get()
            try? await waitUntil(seconds: drain) { delivered() >= sent.acknowledged * subscribers }
            return sent
        }
        let cpu = CPUSample.now().percent(since: cpuStart)
        for (index, handle) in handles.enumerated() {
            conns[index].eventLoop.execute { handle.value.stop() }
        }

        let totals = BenchRecorder.merged(recorders)
        let writes = writerRecorder.snapshot
        printResults([Result(
            subscribers: subscribers, rate: rate, seconds: duration, appended: appended.acknowledged,
            appendedPerS: (Double(appended.acknowledged) / duration * 10).rounded() / 10, skippedTicks: appended.skipped,
            expected: appended.acknowledged * subscribers,
            delivered: totals.succeeded, reconnects: counters.reconnects.load(ordering: .relaxed), latency: LatencySummary(totals.latency),
            appendLatency: LatencySummary(writes.latency), errors: totals.errors.merging(writes.errors.map { ("append \($0.key)", $0.value) }) { $0 + $1 },
            clientCpuPercent: cpu)], json: client.json)

        for writer in writers { writer.close() }
        await bench.deleteStreams(1)
        await bench.shutdown()
    }

    private func startSubscribers(
        _ conns: [BenchConnection], bench: BenchClient, path: String, counters: FanoutCounters, recorders: [BenchRecorder]
    ) async throws -> [NIOLoopBound<SSESubscriber>] {
        let loops = Array(bench.group.makeIterator())
        var handles: [NIOLoopBound<SSESubscriber>] = []
        for (index, conn) in conns.enumerated() {
            let recorder = recorders[loops.firstIndex { $0 === conn.eventLoop } ?? 0]
            handles.append(try await conn.eventLoop.submit {
                let subscriber = SSESubscriber(connection: conn, path: path, recorder: recorder, counters: counters,
                                               reopen: { bench.connect(index, on: conn.eventLoop) })
                subscriber.start()
                return NIOLoopBound(subscriber, eventLoop: conn.eventLoop)
            }.get())
        }
        return handles
    }
}

/// Polls `condition` every few milliseconds until it holds or `seconds` pass (then throws).
func waitUntil(seconds: Double, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while !condition() {
        guard ContinuousClock.now < deadline else { throw ValidationError("timed out after \(seconds) s") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
