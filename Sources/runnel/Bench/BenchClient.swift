import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Flags every HTTP workload of `runnel bench` shares.
struct BenchClientOptions: ParsableArguments {
    @Option(help: "Comma-separated base URLs of the nodes (http:// or https://); connections go round-robin.")
    var url: String = "http://127.0.0.1:4437"

    @Option(help: "Stream path prefix; the streams are PREFIX-RUN-i (RUN is random per run).")
    var pathPrefix: String = "/v1/stream/bench"

    @Option(help: "PEM file of the CA certificates to trust for https:// URLs.")
    var caFile: String?

    @Option(help: "Event-loop threads of the load generator (connections are spread over them).")
    var threads: Int = 2

    @Flag(help: "Print one JSON object per result line instead of a table.")
    var json = false

    @Flag(help: "Keep the benchmark's streams afterwards (by default they are deleted).")
    var keepStreams = false
}

/// One node to send to, from `--url`.
struct BenchTarget: Sendable {
    var host: String
    var port: Int
    var tls: Bool

    init(_ text: some StringProtocol) throws {
        guard let parts = URLComponents(string: String(text)), let scheme = parts.scheme?.lowercased(),
              scheme == "http" || scheme == "https", var host = parts.host, !host.isEmpty
        else { throw ValidationError("--url: not an http(s) URL: \(text)") }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        self.tls = scheme == "https"
        self.port = parts.port ?? (tls ? 443 : 80)
    }

    var isIPAddress: Bool { host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." } }

    var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// What a workload needs to talk to the nodes: event loops, TLS, targets and stream names.
struct BenchClient: Sendable {
    let group: MultiThreadedEventLoopGroup
    let targets: [BenchTarget]
    let tls: NIOSSLContext?
    let options: BenchClientOptions
    let run = String(UInt32.random(in: 0...UInt32.max), radix: 16)

    init(options: BenchClientOptions) throws {
        self.options = options
        targets = try options.url.split(separator: ",").map { try BenchTarget($0.trimmingCharacters(in: .whitespaces)) }
        guard !targets.isEmpty else { throw ValidationError("--url: at least one URL") }
        if targets.contains(where: \.tls) {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile = options.caFile { configuration.trustRoots = .file(caFile) }
            configuration.applicationProtocols = ["http/1.1"]
            tls = try NIOSSLContext(configuration: configuration)
        } else {
            tls = nil
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        _ = raiseOpenFileLimit()
    }

    func shutdown() async {
        try? await group.shutdownGracefully()
    }

    /// The path of the benchmark's stream `index`.
    func streamPath(_ index: Int) -> String { "\(options.pathPrefix)-\(run)-\(index)" }

    /// Connection `index`: targets round-robin, event loops round-robin.
    func connect(_ index: Int, on eventLoop: (any EventLoop)? = nil) -> EventLoopFuture<BenchConnection> {
        let target = targets[index % targets.count]
        return BenchConnection.connect(to: target, on: eventLoop ?? group.next(), tls: target.tls ? tls : nil)
    }

    /// Opens `count` connections, at most `parallel` connects at a time (a burst of a
    /// thousand SYNs would overflow the server's accept backlog).
    func connectAll(_ count: Int, parallel: Int = 64) async throws -> [BenchConnection] {
        var connections: [BenchConnection] = []
        connections.reserveCapacity(count)
        var next = 0
        while next < count {
            let batch = (next..<min(count, next + parallel)).map { connect($0) }
            for future in batch { connections.append(try await future.get()) }
            next += batch.count
        }
        return connections
    }

    /// PUTs the streams `0..<count` through `connection`; 201 and 200 (exists) both do.
    func createStreams(_ count: Int, contentType: String, on connection: BenchConnection) async throws {
        for index in 0..<count {
            let response = try await connection.request(connection.head(.PUT, streamPath(index), contentType: contentType, bodyLength: 0))
            guard response.isSuccess else {
                throw ValidationError("PUT \(streamPath(index)): HTTP \(response.status) \(response.text)")
            }
        }
    }

    /// DELETEs the streams unless `--keep-streams`, on a connection of its own (the setup
    /// connection may have been closed as idle meanwhile); failures are only reported.
    func deleteStreams(_ count: Int) async {
        guard !options.keepStreams else { return }
        guard let connection = try? await connect(0).get() else {
            return progress("cannot connect to delete the benchmark's streams")
        }
        defer { connection.close() }
        for index in 0..<count {
            let response = try? await connection.request(connection.head(.DELETE, streamPath(index)))
            if let response, !response.isSuccess {
                progress("DELETE \(streamPath(index)): HTTP \(response.status)")
            }
        }
    }
}

extension BenchResponse {
    var text: String { body.map { String(buffer: $0) } ?? "" }
}

/// A line to standard error: progress and warnings never mix with results on stdout.
func progress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
