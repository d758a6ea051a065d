import ArgumentParser
import Foundation
import Logging
import Server
import Storage

/// `runnel serve`: run a node. With no flags, a single-node cluster (node 1) on
/// 127.0.0.1:4437 with its data in ./runnel-data.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a Runnel node.")

    @Option(help: "This node's id (env RUNNEL_NODE_ID; default 1).")
    var nodeId: UInt64?

    @Option(help: "Data directory (env RUNNEL_DATA_DIR; default ./runnel-data).")
    var dataDir: String?

    @Option(help: "HTTP listen address HOST:PORT (env RUNNEL_LISTEN; default 127.0.0.1:4437; port 0 picks one).")
    var listen: String?

    @Option(help: "Largest accepted request body in bytes (env RUNNEL_MAX_BODY_BYTES; default 64 MiB).")
    var maxBodyBytes: Int?

    @Option(help: "Most bytes one catch-up read returns (env RUNNEL_READ_CHUNK_BYTES; default 4 MiB).")
    var readChunkBytes: Int?

    @Option(help: "Seconds a long-poll read waits for data before 204 (env RUNNEL_LONG_POLL_TIMEOUT; default 30).")
    var longPollTimeout: Double?

    @Option(help: "PEM certificate chain for HTTPS (env RUNNEL_TLS_CERT); needs --tls-key.")
    var tlsCert: String?

    @Option(help: "PEM private key for HTTPS (env RUNNEL_TLS_KEY); needs --tls-cert.")
    var tlsKey: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env RUNNEL_LOG_LEVEL).")
    var logLevel: String?

    func run() async throws {
        var logger = Logger(label: "runnel")
        let level = Env.value(logLevel, "RUNNEL_LOG_LEVEL", default: "info")
        guard let parsedLevel = Logger.Level(rawValue: level) else {
            throw ValidationError("unknown log level \(level)")
        }
        logger.logLevel = parsedLevel
        let nodeID = UInt64(Env.value(nodeId.map(String.init), "RUNNEL_NODE_ID", default: "1")) ?? 0
        guard nodeID > 0 else { throw ValidationError("--node-id must be a positive integer") }
        logger[metadataKey: "node.id"] = "\(nodeID)"

        let listenText = Env.value(listen, "RUNNEL_LISTEN", default: "127.0.0.1:4437")
        guard let address = HostPort(listenText) else { throw ValidationError("--listen must be HOST:PORT, got \(listenText)") }

        var server = ServerConfiguration()
        server.host = address.host
        server.port = address.port
        if let text = Env.value(maxBodyBytes.map(String.init), "RUNNEL_MAX_BODY_BYTES") {
            guard let value = Int(text), value > 0 else { throw ValidationError("--max-body-bytes must be positive") }
            server.maxBodyBytes = value
        }
        if let text = Env.value(readChunkBytes.map(String.init), "RUNNEL_READ_CHUNK_BYTES") {
            guard let value = Int(text), value > 0 else { throw ValidationError("--read-chunk-bytes must be positive") }
            server.readChunkBytes = value
        }

        if let text = Env.value(longPollTimeout.map { String($0) }, "RUNNEL_LONG_POLL_TIMEOUT") {
            guard let value = Double(text), value > 0 else { throw ValidationError("--long-poll-timeout must be positive") }
            server.longPollTimeout = .milliseconds(Int64(value * 1000))
        }

        server.tlsCertificatePath = Env.value(tlsCert, "RUNNEL_TLS_CERT")
        server.tlsKeyPath = Env.value(tlsKey, "RUNNEL_TLS_KEY")

        let dataDirectory = Env.value(dataDir, "RUNNEL_DATA_DIR", default: "./runnel-data")
        // Configuration errors (a bad certificate) stop startup before any data is opened.
        try RunnelServer.validate(server)
        let metrics = RunnelMetrics()
        var storage = StorageConfiguration(dataDirectory: dataDirectory)
        storage.onEntrySynced = metrics.entrySynced
        let store = try StreamStore(configuration: storage, logger: logger)
        logger.info("storage open", metadata: ["data.dir": "\(dataDirectory)", "raft.applied": "\(store.appliedIndex)"])

        let scheme = server.tlsCertificatePath == nil ? "http" : "https"
        let app = try RunnelServer.makeApplication(store: store, configuration: server, metrics: metrics, logger: logger) { port in
            announce("runnel listening on \(address.host):\(port) (\(scheme))")
        }
        do {
            try await app.runService()
        } catch {
            store.shutdown()
            throw error
        }
        store.shutdown()
        logger.info("stopped")
    }
}
