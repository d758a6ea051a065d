// swift-tools-version:6.2
// Runnel: a replicated, HTTP-native durable stream service.
//
// Targets are split by what they must import (see docs/architecture.md): the pure
// state machines (`Raft`, `StreamModel`) import nothing but the standard library, so
// their tests run in microseconds and never wait for the server stack to build.

import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "runnel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "runnel", targets: ["runnel"]),
        // Libraries for the separate `Benchmarks/` package (package-benchmark), which depends
        // on this one by path so that benchmarking never slows `make test`.
        .library(name: "RunnelRaft", targets: ["Raft"]),
        .library(name: "RunnelStreamModel", targets: ["StreamModel"]),
        .library(name: "RunnelRocksDB", targets: ["RocksDB"]),
        .library(name: "RunnelStorage", targets: ["Storage"]),
        .library(name: "RunnelReplication", targets: ["Replication"]),
        .library(name: "RunnelServer", targets: ["Server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        // Already a dependency of Hummingbird: services and one ServiceGroup for the node.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // SHA-256 of stream snapshots and API key secrets (no hand-written crypto); 4.x for jwt-kit.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // JWT verification (HS256, RS256, ES256, EdDSA; JWKS), docs/access-control.md.
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
    ],
    targets: [
        // MARK: Storage engine
        .systemLibrary(name: "CRocksDB", pkgConfig: "rocksdb", providers: [.apt(["librocksdb-dev"])]),
        .target(name: "RocksDB", dependencies: ["CRocksDB"], swiftSettings: strict),

        // MARK: Standard-library building blocks
        // One binary codec for every format (Raft messages, log entries, commands, rows, frames).
        .target(name: "BinaryCodec", swiftSettings: strict),
        // One seeded generator, so a seed replays a run in Raft, the simulator and the tests.
        .target(name: "SeededRandom", swiftSettings: strict),

        // MARK: Pure state machines (no I/O)
        .target(name: "Raft", dependencies: ["BinaryCodec", "SeededRandom"], swiftSettings: strict),
        .target(name: "StreamModel", dependencies: ["BinaryCodec"], swiftSettings: strict),

        // MARK: Durable log and applied state
        .target(
            name: "Storage",
            dependencies: [
                "BinaryCodec", "RocksDB", "Raft", "StreamModel",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // MARK: Replication: the node (Raft driver, group commit, forwarding, ReadIndex, apply)
        .target(
            name: "Replication",
            dependencies: [
                "Raft", "RocksDB", "Storage", "StreamModel",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // MARK: Replication transport
        .target(
            name: "Cluster",
            dependencies: [
                "BinaryCodec", "Raft", "Replication", "Storage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),

        // MARK: HTTP surface
        .target(
            name: "Server",
            dependencies: [
                "Raft", "Replication", "Storage", "StreamModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "runnel",
            dependencies: [
                "Cluster", "Replication", "Server", "Storage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // MARK: Test kit
        .target(
            name: "RunnelTesting",
            dependencies: [
                "BinaryCodec", "Raft", "Replication", "SeededRandom", "Storage", "StreamModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),

        // MARK: Tests
        .testTarget(name: "RocksDBTests", dependencies: ["RocksDB"]),
        .testTarget(name: "BinaryCodecTests", dependencies: ["BinaryCodec"]),
        .testTarget(name: "StreamModelTests", dependencies: ["BinaryCodec", "SeededRandom", "StreamModel"]),
        .testTarget(name: "RaftTests", dependencies: ["BinaryCodec", "Raft", "RunnelTesting"]),
        .testTarget(name: "StorageTests", dependencies: ["BinaryCodec", "Raft", "Storage", "StreamModel", "RocksDB", "RunnelTesting"]),
        .testTarget(name: "ReplicationTests", dependencies: ["BinaryCodec", "Raft", "Replication", "Storage", "StreamModel", "RocksDB", "RunnelTesting"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "RunnelTesting", "StreamModel", .product(name: "NIOCore", package: "swift-nio"),
                // Signs the JWTs the access-control tests send (the server verifies them with it too).
                .product(name: "JWTKit", package: "jwt-kit"),
            ]),
        .testTarget(name: "ConformanceTests", dependencies: ["RunnelTesting", "SeededRandom"]),
        .testTarget(
            name: "ClusterTests",
            dependencies: [
                "Cluster", "Raft", "Replication", "SeededRandom", "Storage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]),
        .testTarget(
            name: "ServerTests",
            dependencies: ["Server", "StreamModel", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio")]),
    ]
)
