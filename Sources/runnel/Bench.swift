import ArgumentParser
import Foundation
import Logging
import Replication
import Storage
import StreamModel

/// `runnel bench`: measurements, never tests. `storage` runs in-process; `append`, `read`
/// and `fanout` speak plain Durable Streams HTTP, so they drive any such server.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks.", subcommands: [StorageBench.self, AppendBench.self, ReadBench.self, FanoutBench.self])
}

/// Durable appends through the storage layer in-process (no HTTP), next to the raw
/// `fdatasync` latency of the same disk, measured in the same run.
struct StorageBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "storage", abstract: "Durable append throughput of the storage layer.")

    @Option(help: "Scratch directory (created, then removed).")
    var dataDir: String = NSTemporaryDirectory() + "runnel-bench-\(getpid())"

    @Option(help: "Seconds per measurement.")
    var seconds: Double = 5

    @Option(help: "Comma-separated writer counts.")
    var writers: String = "1,32"

    @Option(help: "Append size in bytes.")
    var size: Int = 256

    func run() async throws {
        try? FileManager.default.removeItem(atPath: dataDir)
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dataDir) }

        let sync = try measureFdatasync(directory: dataDir, seconds: min(seconds, 3), size: size)
        print("raw write(\(size) B)+fdatasync: \(sync.count) syncs, mean \(fmt(sync.mean)) ms, p50 \(fmt(sync.p50)) ms, p99 \(fmt(sync.p99)) ms")

        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        for count in writers.split(separator: ",").compactMap({ Int($0) }) {
            let dir = dataDir + "/store-\(count)"
            let store = try Node(configuration: NodeConfiguration(dataDirectory: dir), logger: logger)
            let result = try await measureAppends(store: store, writers: count)
            store.shutdown()
            print("""
                writers=\(count): \(Int(result.rate)) appends/s, p50 \(fmt(result.latency.p50)) ms, p99 \(fmt(result.latency.p99)) ms, \
                \(fmt(result.perSync)) appends per fsync, mean log fsync \(fmt(result.meanSync)) ms
                """)
        }
    }

    struct Latencies {
        var count: Int
        var mean: Double
        var p50: Double
        var p99: Double

        init(_ samples: [Double]) {
            let sorted = samples.sorted()
            count = sorted.count
            mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
            p50 = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
            p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
        }
    }

    private func measureFdatasync(directory: String, seconds: Double, size: Int) throws -> Latencies {
        let path = directory + "/fsync-probe"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot open \(path)") }
        defer { close(fd); unlink(path) }
        let block = [UInt8](repeating: 0x61, count: size)
        var samples: [Double] = []
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = block.withUnsafeBytes { write(fd, $0.baseAddress, size) }
            fdatasync(fd)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return Latencies(samples)
    }

    private func measureAppends(store: Node, writers: Int) async throws -> (rate: Double, latency: Latencies, perSync: Double, meanSync: Double) {
        let path = StreamPath(bucket: "_default", name: "bench")
        _ = try await store.propose(.create(CreateStream(path: path)))
        let payload = Body.bytes([UInt8](repeating: 0x62, count: size))
        let before = store.statistics
        let started = DispatchTime.now().uptimeNanoseconds
        let deadline = started + UInt64(seconds * 1e9)
        let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<writers {
                group.addTask {
                    var local: [Double] = []
                    while DispatchTime.now().uptimeNanoseconds < deadline {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        let result = try await store.propose(.append(AppendStream(path: path, contentType: MediaType.octetStream, body: payload)))
                        if case .rejected(let error) = result {
                            throw ValidationError("append rejected: \(error)")
                        }
                        local.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                    }
                    return local
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let after = store.statistics
        let syncs = Double(after.syncs - before.syncs)
        return (Double(samples.count) / elapsed, Latencies(samples),
                Double(after.commands - before.commands) / max(syncs, 1),
                Double(after.syncNanoseconds - before.syncNanoseconds) / max(syncs, 1) / 1e6)
    }

    private func fmt(_ v: Double) -> String { String(format: "%.3f", v) }
}
