// swift-tools-version:6.1
// Runnel's micro-benchmarks (package-benchmark). A package of its own, depending on the root
// package by path, so that building and running them never slows `make test`.
//
// Run: `make bench-micro`, or from this directory
// `swift package --allow-writing-to-package-directory benchmark` (see docs/benchmarks.md).

import PackageDescription

let package = Package(
    name: "RunnelBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "runnel", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        // What every suite shares: regression tolerances and the process CPU-time metric.
        .target(
            name: "BenchmarkSupport",
            dependencies: [.product(name: "Benchmark", package: "benchmark")],
            path: "Sources/BenchmarkSupport"
        ),

        // Consensus cost: entries committed through three pure Raft cores.
        .executableTarget(
            name: "RaftCommit",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RunnelRaft", package: "runnel"),
            ],
            path: "Benchmarks/RaftCommit",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The hot paths around the log: command codec, apply, RocksDB batch, log append, SSE.
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RunnelRaft", package: "runnel"),
                .product(name: "RunnelStreamModel", package: "runnel"),
                .product(name: "RunnelRocksDB", package: "runnel"),
                .product(name: "RunnelStorage", package: "runnel"),
                .product(name: "RunnelReplication", package: "runnel"),
                .product(name: "RunnelServer", package: "runnel"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
