import Benchmark
import BenchmarkSupport
import Server
import Replication
import Storage

/// The hot paths around the log (issue 6, part 3), each on one group-commit batch of
/// ``Workload/commandCount`` appends of ``Workload/bodyBytes``.
///
/// One benchmark iteration repeats the operation `scalingFactor` (1,000) times, so every
/// scaled figure is per operation, that is per batch.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = Suite.configuration(maxDuration: .seconds(2))
    // Names become file names under Thresholds/: no spaces or slashes.
    let shape = "\(Workload.commandCount)x\(Workload.bodyBytes)B"

    // MARK: Command codec (a proposal is encoded once, on the node that takes it; every node
    // decodes every committed entry to apply it)

    let batch = Workload.batch
    let encoded = batch.encoded()
    Benchmark("CommandBatch.encoded-\(shape)") { benchmark in
        ProcessCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(batch.encoded())
            }
        }
    }
    Benchmark("CommandBatch.decode-\(shape)") { benchmark in
        ProcessCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                blackHole(try! CommandBatch.decode(encoded))
            }
        }
    }

    // MARK: State machine

    Benchmark("StreamModel.apply-\(shape)") { benchmark, fixture in
        ProcessCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                fixture.applyBatch()
            }
        }
    } setup: {
        ApplyFixture()
    }

    // MARK: Storage, without fsync

    // RocksDB's background threads allocate too, and memtable flushes make iterations uneven:
    // a looser allocation tolerance and a longer run.
    func storage(setup: @escaping Benchmark.BenchmarkSetupHook, teardown: @escaping Benchmark.BenchmarkTeardownHook) -> Benchmark.Configuration {
        var configuration = Suite.configuration(maxDuration: .seconds(4))
        configuration.thresholds = Tolerances.byMetric(mallocs: Tolerances.mallocsWithBackgroundWork)
        configuration.setup = setup
        configuration.teardown = teardown
        return configuration
    }

    let rocks = RocksDBFixture()
    Benchmark(
        "RocksDB.write-nosync-\(shape)",
        configuration: storage(setup: { try rocks.open() }, teardown: { try rocks.close() })
    ) { benchmark in
        ProcessCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                rocks.writeBatch()
            }
        }
    }

    let log = LogStoreFixture()
    Benchmark(
        "LogStore.save-nosync-1-entry-\(shape)",
        configuration: storage(setup: { try await log.open() }, teardown: { log.close() })
    ) { benchmark in
        ProcessCPU.measure(benchmark) {
            for _ in benchmark.scaledIterations {
                log.saveEntry()
            }
        }
    }

    // MARK: Live reads

    let sse = SSEFixture()
    for (name, encoding) in [("text", SSEEncoding.text), ("base64", SSEEncoding.base64)] {
        Benchmark(
            "SSE.writeData-\(name)-\(shape)",
            configuration: .init(setup: { try await sse.load() })
        ) { benchmark in
            ProcessCPU.measure(benchmark) {
                for _ in benchmark.scaledIterations {
                    sse.frame(encoding)
                }
            }
        }
    }
}
