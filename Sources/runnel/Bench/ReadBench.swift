import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1

/// `runnel bench read`: fills one stream with large appends, then times catch-up reads
/// (protocol §8.2) from `offset=-1`, following `Stream-Next-Offset` until `Stream-Up-To-Date`.
struct ReadBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read", abstract: "Catch-up read MB/s and messages/s over HTTP.")

    @OptionGroup var client: BenchClientOptions

    @Option(help: "MiB to fill the stream with.")
    var sizeMb = 1024

    @Option(help: "Bytes per fill append (each one message).")
    var chunk = 64 * 1024

    @Option(help: "Connections filling the stream in parallel.")
    var fillConnections = 4

    @Option(help: "Times to read the whole stream (one result line each).")
    var passes = 3

    struct Result: BenchResult {
        var workload = "read"
        var pass: Int
        var bytes: Int
        var messages: Int
        var requests: Int
        var seconds: Double
        var mbPerS: Double
        var messagesPerS: Double
        var fillMbPerS: Double
        var clientCpuPercent: Double

        static let columns = ["pass", "bytes", "messages", "GETs", "seconds", "MB/s", "messages/s", "fill MB/s", "client CPU"]
        var cells: [String] {
            ["\(pass)", "\(bytes)", "\(messages)", "\(requests)", String(format: "%.3f", seconds), String(format: "%.1f", mbPerS),
             String(format: "%.0f", messagesPerS), String(format: "%.1f", fillMbPerS), String(format: "%.0f%%", clientCpuPercent)]
        }
    }

    func validate() throws {
        guard sizeMb > 0, chunk > 0, fillConnections > 0, passes > 0 else {
            throw ValidationError("--size-mb, --chunk, --fill-connections and --passes must be positive")
        }
    }

    func run() async throws {
        let bench = try BenchClient(options: client)
        let setup = try await bench.connect(0).get()
        try await bench.createStreams(1, contentType: "application/octet-stream", on: setup)
        setup.close()
        let messages = (sizeMb * 1024 * 1024 + chunk - 1) / chunk
        let fillStart = monotonicNanoseconds()
        try await fill(bench, messages: messages)
        let fillSeconds = Double(monotonicNanoseconds() - fillStart) / 1e9
        let fillRate = Double(messages * chunk) / fillSeconds / 1e6
        progress(String(format: "filled %d MiB in %d appends: %.1f MB/s", sizeMb, messages, fillRate))

        let reader = try await bench.connect(0).get()
        var results: [Result] = []
        for pass in 1...passes {
            let cpu = CPUSample.now()
            let (bytes, requests) = try await readAll(bench.streamPath(0), on: reader)
            let seconds = Double(monotonicNanoseconds() - cpu.wallNanoseconds) / 1e9
            let result = Result(
                pass: pass, bytes: bytes, messages: messages, requests: requests, seconds: (seconds * 1e3).rounded() / 1e3,
                mbPerS: (Double(bytes) / seconds / 1e5).rounded() / 10, messagesPerS: (Double(messages) / seconds).rounded(),
                fillMbPerS: (fillRate * 10).rounded() / 10, clientCpuPercent: CPUSample.now().percent(since: cpu))
            progress(String(format: "pass %d: %.1f MB/s", pass, result.mbPerS))
            results.append(result)
        }
        printResults(results, json: client.json)

        reader.close()
        await bench.deleteStreams(1)
        await bench.shutdown()
    }

    /// Appends `messages` bodies of `chunk` bytes over `--fill-connections` connections.
    private func fill(_ bench: BenchClient, messages: Int) async throws {
        let budget = Budget(messages)
        let path = bench.streamPath(0)
        let body = ByteBuffer(repeating: UInt8(ascii: "r"), count: chunk)
        let chunk = chunk
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<fillConnections {
                group.addTask {
                    let conn = try await bench.connect(index).get()
                    defer { conn.close() }
                    while budget.take() {
                        let head = conn.head(.POST, path, contentType: "application/octet-stream", bodyLength: chunk)
                        let response = try await conn.request(head, body: body)
                        guard response.isSuccess else { throw ValidationError("fill POST: HTTP \(response.status) \(response.text)") }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Reads the stream from the start until the server says it is up to date; returns the
    /// body bytes and the number of GETs.
    private func readAll(_ path: String, on conn: BenchConnection) async throws -> (bytes: Int, requests: Int) {
        var offset = "-1"
        var bytes = 0
        var requests = 0
        while true {
            let response = try await conn.request(conn.head(.GET, "\(path)?offset=\(offset)"), collect: false)
            requests += 1
            guard response.status == 200, let next = response.headers.first(name: "Stream-Next-Offset") else {
                throw ValidationError("GET \(path)?offset=\(offset): HTTP \(response.status)")
            }
            bytes += response.bodyBytes
            offset = next
            if response.headers.first(name: "Stream-Up-To-Date") == "true" { return (bytes, requests) }
        }
    }
}
