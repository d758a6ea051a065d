import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// `runnel bench append`: closed-loop appends (protocol §4, POST) over keep-alive
/// connections, each with exactly one append in flight.
struct AppendBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append", abstract: "Acknowledged appends/s and latency over HTTP (closed loop).")

    @OptionGroup var client: BenchClientOptions

    @Option(help: "Keep-alive connections, one append in flight on each.")
    var connections = 32

    @Option(help: "Streams; connection i appends to stream i mod streams.")
    var streams = 1

    @Option(help: "Append body size in bytes.")
    var size = 256

    @Option(help: "Measured seconds (after the warm-up).")
    var duration: Double = 10

    @Option(help: "Warm-up seconds, not measured.")
    var warmup: Double = 2

    @Option(help: "Stop after this many measured appends instead of after --duration.")
    var count: Int?

    @Flag(help: "Send Producer-Id/Producer-Epoch/Producer-Seq (one producer per connection).")
    var producerHeaders = false

    struct Result: BenchResult {
        var workload = "append"
        var connections: Int
        var streams: Int
        var size: Int
        var seconds: Double
        var appends: Int
        var appendsPerS: Double
        var mbPerS: Double
        var latency: LatencySummary
        var errors: [String: Int]
        var clientCpuPercent: Double

        static let columns = ["conns", "streams", "size", "appends/s", "MB/s"] + LatencySummary.columns + ["errors", "client CPU"]
        var cells: [String] {
            ["\(connections)", "\(streams)", "\(size) B", String(format: "%.0f", appendsPerS), String(format: "%.2f", mbPerS)]
                + latency.cells + [errors.isEmpty ? "0" : errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "),
                                   String(format: "%.0f%%", clientCpuPercent)]
        }
    }

    func validate() throws {
        guard connections > 0, streams > 0, size > 0, duration > 0, warmup >= 0 else {
            throw ValidationError("--connections, --streams, --size and --duration must be positive")
        }
    }

    func run() async throws {
        let bench = try BenchClient(options: client)
        let setup = try await bench.connect(0).get()
        try await bench.createStreams(streams, contentType: "application/octet-stream", on: setup)
        setup.close()
        let conns = try await bench.connectAll(connections)
        let recorders = conns.map { _ in BenchRecorder() }

        let start = monotonicNanoseconds()
        let plan = AppendLoop.Plan(
            measureFrom: start + UInt64(warmup * 1e9),
            stopAt: count == nil ? start + UInt64((warmup + duration) * 1e9) : .max,
            budget: count.map { Budget($0) })
        let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
        let done = conns.enumerated().map { index, conn in
            let path = bench.streamPath(index % streams)
            let producer = producerHeaders ? "bench-\(bench.run)-\(index)" : nil
            return conn.eventLoop.flatSubmit {
                AppendLoop(connection: conn, path: path, payload: payload, producer: producer,
                           recorder: recorders[index], plan: plan,
                           reopen: { bench.connect(index, on: conn.eventLoop) }).start()
            }
        }

        let cpuAtStart = CPUSample.now()
        let (cpu, finished) = try await withProgress(
            count: { recorders.reduce(0) { $0 + $1.attempted } },
            describe: { second, rate, cpu in
                let errors = recorders.reduce(0) { $0 + $1.failed }
                return String(format: "[%3ds] %8.0f appends/s  errors %d  client CPU %.0f%%", second, rate, errors, cpu)
            }
        ) {
            try await Task.sleep(for: .seconds(count == nil ? warmup : 0))
            let measuredFrom = CPUSample.now()
            let ends = try await EventLoopFuture.whenAllSucceed(done, on: bench.group.next()).get()
            return (CPUSample.now().percent(since: count == nil ? measuredFrom : cpuAtStart), ends.max() ?? plan.stopAt)
        }

        let totals = BenchRecorder.merged(recorders)
        let seconds = count == nil ? duration : Double(finished - plan.measureFrom) / 1e9
        printResults([Result(
            connections: connections, streams: streams, size: size, seconds: (seconds * 1000).rounded() / 1000,
            appends: totals.succeeded, appendsPerS: (Double(totals.succeeded) / seconds).rounded(),
            mbPerS: (Double(totals.bytes) / seconds / 1e4).rounded() / 100,
            latency: LatencySummary(totals.latency), errors: totals.errors, clientCpuPercent: cpu)], json: client.json)

        for conn in conns { conn.close() }
        await bench.deleteStreams(streams)
        await bench.shutdown()
    }
}

/// A shared count of appends still to send, for `--count`.
final class Budget: Sendable {
    private let remaining: Atomic<Int>
    init(_ count: Int) { remaining = Atomic(count) }
    /// Takes one; false once none is left.
    func take() -> Bool { remaining.subtract(1, ordering: .relaxed).newValue >= 0 }
}

/// One connection's closed loop, on its event loop: send, wait for the answer, record,
/// send the next. A failed connection is counted as `io` and reopened.
final class AppendLoop {
    struct Plan: Sendable {
        var measureFrom: UInt64
        var stopAt: UInt64
        var budget: Budget?
    }

    private var connection: BenchConnection
    private let payload: ByteBuffer
    private let producer: String?
    private var head: HTTPRequestHead
    private var sentAt: UInt64 = 0
    private var sentMeasured = false
    /// One closure for every answer, so that no allocation happens per request. It keeps
    /// the loop alive while it runs; `finish` lets go of it.
    private var onAnswer: ((Result<BenchResponse, any Error>) -> Void)?
    private var sequence = 0
    private let recorder: BenchRecorder
    private let plan: Plan
    private let done: EventLoopPromise<UInt64>
    private let reopen: () -> EventLoopFuture<BenchConnection>

    init(
        connection: BenchConnection, path: String, payload: ByteBuffer, producer: String?, recorder: BenchRecorder,
        plan: Plan, reopen: @escaping () -> EventLoopFuture<BenchConnection>
    ) {
        self.reopen = reopen
        self.connection = connection
        self.head = connection.head(.POST, path, contentType: "application/octet-stream", bodyLength: payload.readableBytes)
        if let producer {
            head.headers.add(name: "Producer-Id", value: producer)
            head.headers.add(name: "Producer-Epoch", value: "0")
        }
        self.payload = payload
        self.producer = producer
        self.recorder = recorder
        self.plan = plan
        self.done = connection.eventLoop.makePromise()
    }

    /// Starts the loop; the future gives the time the last answer arrived.
    func start() -> EventLoopFuture<UInt64> {
        onAnswer = { self.answered($0) }
        next()
        return done.futureResult
    }

    private func next() {
        let now = monotonicNanoseconds()
        let measured = now >= plan.measureFrom
        guard now < plan.stopAt, !measured || plan.budget?.take() ?? true, let onAnswer else {
            finish(at: now)
            return
        }
        if producer != nil { head.headers.replaceOrAdd(name: "Producer-Seq", value: String(sequence)) }
        sentAt = now
        sentMeasured = measured
        connection.send(head, body: payload, completion: onAnswer)
    }

    private func finish(at time: UInt64) {
        onAnswer = nil
        done.succeed(time)
    }

    private func answered(_ result: Result<BenchResponse, any Error>) {
        let end = monotonicNanoseconds()
        let counted = sentMeasured && end <= plan.stopAt
        switch result {
        case .success(let response) where response.isSuccess:
            sequence += 1
            recorder.succeeded(nanoseconds: end - sentAt, bytes: payload.readableBytes, measured: counted)
            next()
        case .success(let response):
            recorder.failed(String(response.status), measured: counted)
            next()
        case .failure(let error):
            recorder.failed(BenchConnectionError.kind(of: error), measured: counted)
            reconnect()
        }
    }

    private func reconnect() {
        connection.close()
        connection.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(100)) {
            guard monotonicNanoseconds() < self.plan.stopAt else {
                self.finish(at: monotonicNanoseconds())
                return
            }
            self.reopen().assumeIsolated().whenComplete { result in
                switch result {
                case .success(let fresh):
                    self.connection = fresh
                    self.next()
                case .failure:
                    self.reconnect()
                }
            }
        }
    }
}
