import ArgumentParser
import Cluster
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOPosix
import Server
import Replication
import ServiceLifecycle
import Storage
import StreamModel

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

    @Option(help: "Peer (Raft) listen address HOST:PORT (env RUNNEL_PEER_LISTEN; default: this node's address in --peers).")
    var peerListen: String?

    @Option(help: "Initial voters ID=HOST:PORT,... with their peer addresses, this node included (env RUNNEL_PEERS). Omit for a single node.")
    var peers: String?

    @Option(help: "Join an existing cluster through the admin API at URL (any member, e.g. http://10.0.0.1:4437) when the data directory is new; needs --node-id and --advertise (env RUNNEL_JOIN). Ignored when the data directory already holds a node.")
    var join: String?

    @Option(help: "The peer address HOST:PORT other nodes reach this node at (env RUNNEL_ADVERTISE; default: the peer listen address).")
    var advertise: String?

    @Option(help: "PEM file of the CAs to trust when --join names an https:// URL (env RUNNEL_JOIN_CA).")
    var joinCa: String?

    @Option(help: "CA certificate (PEM) for mutual TLS between peers (env RUNNEL_PEER_TLS_CA); needs --tls-cert and --tls-key.")
    var peerTlsCa: String?

    @Option(help: "MiB of log written between two snapshots of the applied state (env RUNNEL_SNAPSHOT_INTERVAL_MIB; default 256).")
    var snapshotIntervalMib: Int?

    @Option(help: "Applied log entries kept behind a snapshot, for followers slightly behind (env RUNNEL_RETAINED_LOG_ENTRIES; default 1024).")
    var retainedLogEntries: Int?

    @Option(help: "Seconds a write may wait for a leader and its commit before 503 (env RUNNEL_WRITE_TIMEOUT; default 10).")
    var writeTimeout: Double?

    @Option(help: "Seconds a linearizable read may wait for a read point before 503 (env RUNNEL_READ_TIMEOUT; default 5).")
    var readTimeout: Double?

    @Option(help: "Microseconds the leader may wait for more proposals to fill a log entry, capped by the last fsync's duration (env RUNNEL_GROUP_COMMIT_LINGER; default 500; 0 disables).")
    var groupCommitLinger: Int?

    @Option(help: "Largest accepted request body in bytes (env RUNNEL_MAX_BODY_BYTES; default 64 MiB).")
    var maxBodyBytes: Int?

    @Option(help: "Most bytes one catch-up read returns (env RUNNEL_READ_CHUNK_BYTES; default 4 MiB).")
    var readChunkBytes: Int?

    @Option(help: "Seconds a long-poll read waits for data before 204 (env RUNNEL_LONG_POLL_TIMEOUT; default 30).")
    var longPollTimeout: Double?

    @Option(help: "Seconds one SSE write may wait for a reader that does not read before its connection is closed (env RUNNEL_SSE_WRITE_TIMEOUT; default 10).")
    var sseWriteTimeout: Double?

    @Option(help: "Seconds a request's head may take to arrive once its first byte has, before the connection is closed (env RUNNEL_HEADER_READ_TIMEOUT; default 10).")
    var headerReadTimeout: Double?

    @Option(help: "Seconds an HTTP/1.1 connection with no request in progress stays open (env RUNNEL_IDLE_TIMEOUT; default 60). Waiting live reads are not idle.")
    var idleTimeout: Double?

    @Option(help: "Seconds a TLS handshake may take before the connection is closed (env RUNNEL_TLS_HANDSHAKE_TIMEOUT; default 10).")
    var tlsHandshakeTimeout: Double?

    @Option(help: "Seconds an HTTP/2 connection with no open stream stays open (env RUNNEL_HTTP2_IDLE_TIMEOUT; default 60).")
    var http2IdleTimeout: Double?

    @Option(help: "Most client connections open at once; more are closed when accepted (env RUNNEL_MAX_CONNECTIONS; default 10000).")
    var maxConnections: Int?

    @Option(help: "PEM certificate chain for HTTPS (env RUNNEL_TLS_CERT); needs --tls-key.")
    var tlsCert: String?

    @Option(help: "PEM private key for HTTPS (env RUNNEL_TLS_KEY); needs --tls-cert.")
    var tlsKey: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env RUNNEL_LOG_LEVEL).")
    var logLevel: String?

    @Option(help: "File holding the bootstrap admin token, at least 32 bytes (env RUNNEL_ADMIN_TOKEN_FILE, or the token itself in RUNNEL_ADMIN_TOKEN). Turns authentication on (docs/access-control.md).")
    var adminTokenFile: String?

    @Option(help: "Scope /metrics needs when authentication is on: admin, read or open (env RUNNEL_METRICS_SCOPE; default admin).")
    var metricsScope: String?

    @Option(help: "File holding the HS256 secret that signs accepted JWTs (env RUNNEL_JWT_HS256_SECRET_FILE). Turns authentication on.")
    var jwtHs256SecretFile: String?

    @Option(help: "JWKS file with the public keys (RS256, ES256, EdDSA, …) that sign accepted JWTs (env RUNNEL_JWT_JWKS_FILE). Turns authentication on.")
    var jwtJwksFile: String?

    @Option(help: "The iss a JWT must carry (env RUNNEL_JWT_ISSUER).")
    var jwtIssuer: String?

    @Option(help: "An aud a JWT must carry (env RUNNEL_JWT_AUDIENCE).")
    var jwtAudience: String?

    @Option(help: "Seconds of clock skew allowed on a JWT's exp and nbf (env RUNNEL_JWT_LEEWAY; default 60).")
    var jwtLeeway: Double?

    @Option(help: "Requests per second each API key without a rate of its own, and each JWT subject, may make on this node (env RUNNEL_KEY_REQUESTS_PER_SECOND; default none).")
    var keyRequestsPerSecond: UInt64?

    @Option(help: "Body bytes per second (sent and received) each API key without a rate of its own, and each JWT subject, may move through this node (env RUNNEL_KEY_BYTES_PER_SECOND; default none).")
    var keyBytesPerSecond: UInt64?

    @Option(help: "Failed authentications per second a client address may make before its unverified JWTs get 429 unchecked (env RUNNEL_AUTH_FAILURES_PER_SECOND; default 10, bursts of 10 seconds' worth).")
    var authFailuresPerSecond: Double?

    @Option(help: "Answer appends on HTTP/1.1 on the event loop, without a task (env RUNNEL_FAST_APPENDS; default true; docs/hot-path.md). Measured at 20% less server CPU per append.")
    var fastAppends: Bool?

    @Option(help: "Write to SSE readers at a stream's tail from the event loop, one encoding per batch shared by all (env RUNNEL_SSE_FANOUT; default true; docs/hot-path.md).")
    var sseFanout: Bool?

    @Option(help: "Comma-separated origins (scheme://host[:port]) browser pages may call the stream API from (env RUNNEL_CORS_ORIGINS); default any (*).")
    var corsOrigins: String?

    @Flag(help: "Serve without authentication on an address other than loopback (env RUNNEL_INSECURE_NO_AUTH=1). Without it, and without an admin token, such a node refuses to start.")
    var insecureNoAuth = false

    func run() async throws {
        LoggingSystem.bootstrap { RunnelLogHandler(label: $0) }
        var logger = Logger(label: "runnel")
        let level = Env.value(logLevel, "RUNNEL_LOG_LEVEL", default: "info")
        guard let parsedLevel = Logger.Level(rawValue: level) else {
            throw ValidationError("unknown log level \(level)")
        }
        logger.logLevel = parsedLevel
        let nodeID = UInt64(Env.value(nodeId.map(String.init), "RUNNEL_NODE_ID", default: "1")) ?? 0
        guard nodeID > 0 else { throw ValidationError("--node-id must be a positive integer") }
        logger[metadataKey: "node.id"] = "\(nodeID)"
        if let files = raiseOpenFileLimit() {
            logger.info("raised the open file limit", metadata: ["files.limit": "\(files)"])
        }

        let listenText = Env.value(listen, "RUNNEL_LISTEN", default: "127.0.0.1:4437")
        guard let address = HostPort(listenText) else { throw ValidationError("--listen must be HOST:PORT, got \(listenText)") }

        var server = ServerConfiguration()
        server.host = address.host
        server.port = address.port
        if let text = Env.value(maxBodyBytes.map(String.init), "RUNNEL_MAX_BODY_BYTES") {
            guard let value = Int(text), value > 0, value <= ServerConfiguration.largestBodyLimit else {
                throw ValidationError("--max-body-bytes must be 1 to \(ServerConfiguration.largestBodyLimit) "
                                      + "(a body crosses the cluster as one command)")
            }
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
        if let text = Env.value(sseWriteTimeout.map { String($0) }, "RUNNEL_SSE_WRITE_TIMEOUT") {
            guard let value = Double(text), value > 0 else { throw ValidationError("--sse-write-timeout must be positive") }
            server.sseWriteTimeout = .milliseconds(Int64(value * 1000))
        }

        for (flag, variable, name, apply) in [
            (headerReadTimeout, "RUNNEL_HEADER_READ_TIMEOUT", "--header-read-timeout", { (d: Duration) in server.headerReadTimeout = d }),
            (idleTimeout, "RUNNEL_IDLE_TIMEOUT", "--idle-timeout", { server.idleTimeout = $0 }),
            (tlsHandshakeTimeout, "RUNNEL_TLS_HANDSHAKE_TIMEOUT", "--tls-handshake-timeout", { server.tlsHandshakeTimeout = $0 }),
            (http2IdleTimeout, "RUNNEL_HTTP2_IDLE_TIMEOUT", "--http2-idle-timeout", { server.http2IdleTimeout = $0 }),
        ] as [(Double?, String, String, (Duration) -> Void)] {
            guard let text = Env.value(flag.map { String($0) }, variable) else { continue }
            guard let value = Double(text), value > 0, value < 1e9 else { throw ValidationError("\(name) must be a positive number of seconds") }
            apply(.milliseconds(Int64(value * 1000)))
        }
        if let text = Env.value(maxConnections.map(String.init), "RUNNEL_MAX_CONNECTIONS") {
            guard let value = Int(text), value > 0 else { throw ValidationError("--max-connections must be positive") }
            server.maxConnections = value
        }

        server.access = try Self.accessConfiguration(tokenFile: Env.value(adminTokenFile, "RUNNEL_ADMIN_TOKEN_FILE"),
                                                     metricsScope: Env.value(metricsScope, "RUNNEL_METRICS_SCOPE", default: "admin"))
        server.access.jwt = try await jwtAuthenticator()
        server.access.defaultRates = try defaultKeyRates()
        if let text = Env.value(authFailuresPerSecond.map { String($0) }, "RUNNEL_AUTH_FAILURES_PER_SECOND") {
            guard let value = Double(text), value > 0, value <= 1e6 else { throw ValidationError("--auth-failures-per-second must be above 0 and at most 1000000") }
            server.access.authFailuresPerSecond = value
            server.access.authFailureBurst = max(1, value * 10)
        }
        server.fastAppends = try Self.boolean(fastAppends, "RUNNEL_FAST_APPENDS", "--fast-appends") ?? server.fastAppends
        server.sseFanout = try Self.boolean(sseFanout, "RUNNEL_SSE_FANOUT", "--sse-fanout") ?? server.sseFanout
        if let text = Env.value(corsOrigins, "RUNNEL_CORS_ORIGINS") {
            let origins = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard origins.allSatisfy({ ($0.hasPrefix("https://") || $0.hasPrefix("http://")) && !$0.hasSuffix("/") && $0 != "*" }) else {
                throw ValidationError("--cors-origins lists origins like https://app.example.com, comma-separated (no *, no path)")
            }
            server.corsOrigins = Set(origins)
        }
        if !server.access.enabled {
            let insecure = insecureNoAuth || ["1", "true"].contains(ProcessInfo.processInfo.environment["RUNNEL_INSECURE_NO_AUTH"] ?? "")
            guard Self.isLoopback(address.host) || insecure else {
                throw ValidationError("""
                    refusing to serve \(address.host):\(address.port) without authentication: anyone who can reach it could \
                    read, write and administer every stream. Give an admin token (--admin-token-file FILE or \
                    RUNNEL_ADMIN_TOKEN, at least 32 characters; docs/access-control.md), or pass --insecure-no-auth \
                    (RUNNEL_INSECURE_NO_AUTH=1) to serve openly anyway.
                    """)
            }
            logger.notice("authentication is off: anyone who can reach \(address.host):\(address.port) may read, write and administer (docs/access-control.md)")
        }
        server.tlsCertificatePath = Env.value(tlsCert, "RUNNEL_TLS_CERT")
        server.tlsKeyPath = Env.value(tlsKey, "RUNNEL_TLS_KEY")

        let dataDirectory = Env.value(dataDir, "RUNNEL_DATA_DIR", default: "./runnel-data")
        var peerMap = try Self.parsePeers(Env.value(peers, "RUNNEL_PEERS"), nodeID: nodeID)
        var peerListenAddress: HostPort?
        if let text = Env.value(peerListen, "RUNNEL_PEER_LISTEN") ?? peerMap[nodeID] {
            guard let parsed = HostPort(text) else { throw ValidationError("--peer-listen must be HOST:PORT, got \(text)") }
            peerListenAddress = parsed
        }
        let advertised = Env.value(advertise, "RUNNEL_ADVERTISE")
        if let advertised {
            guard let parsed = HostPort(advertised), parsed.port != 0, !["0.0.0.0", "::"].contains(parsed.host) else {
                throw ValidationError("--advertise must be a HOST:PORT others can dial, got \(advertised)")
            }
            peerMap[nodeID] = advertised
            if peerListenAddress == nil { peerListenAddress = parsed }
        }
        // `--join` only matters for a new data directory: a joined node restarts from its data.
        var joining = false
        var joinCluster: ClusterID?
        if let joinURL = Env.value(join, "RUNNEL_JOIN") {
            let initialized = FileManager.default.fileExists(atPath: (dataDirectory as NSString).appendingPathComponent("db/CURRENT"))
            if initialized {
                logger.info("--join ignored: the data directory already holds a node; resuming from it", metadata: ["data.dir": "\(dataDirectory)"])
            } else {
                guard Env.value(nodeId.map(String.init), "RUNNEL_NODE_ID") != nil else {
                    throw ValidationError("--join needs --node-id: the id this node will have in the cluster")
                }
                guard Env.value(peers, "RUNNEL_PEERS") == nil else {
                    throw ValidationError("--join and --peers exclude each other: --peers bootstraps a new cluster")
                }
                guard let own = advertised ?? Env.value(peerListen, "RUNNEL_PEER_LISTEN"),
                      let parsed = HostPort(own), parsed.port != 0, !["0.0.0.0", "::"].contains(parsed.host) else {
                    throw ValidationError("--join needs --advertise HOST:PORT (or a dialable --peer-listen): the peer address the cluster reaches this node at")
                }
                (peerMap, joinCluster) = try await Join.run(
                    url: joinURL, caFile: Env.value(joinCa, "RUNNEL_JOIN_CA"),
                    token: ClusterCommand.joinToken(adminTokenFile: Env.value(adminTokenFile, "RUNNEL_ADMIN_TOKEN_FILE")),
                    nodeID: nodeID, advertise: own, logger: logger)
                joining = true
            }
        }
        var peerTLS: PeerTLS?
        if let ca = Env.value(peerTlsCa, "RUNNEL_PEER_TLS_CA") {
            guard let cert = server.tlsCertificatePath, let key = server.tlsKeyPath else {
                throw ValidationError("--peer-tls-ca needs --tls-cert and --tls-key (the node's own certificate)")
            }
            peerTLS = PeerTLS(certificatePath: cert, keyPath: key, caPath: ca)
        }
        // Configuration errors (a bad certificate) stop startup before any data is opened.
        try RunnelServer.validate(server)
        let metrics = RunnelMetrics()
        var storage = NodeConfiguration(dataDirectory: dataDirectory)
        storage.nodeID = nodeID
        storage.peers = peerMap
        storage.joinExisting = joining
        storage.joinClusterID = joinCluster
        storage.onEntrySynced = metrics.entrySynced
        if let text = Env.value(snapshotIntervalMib.map(String.init), "RUNNEL_SNAPSHOT_INTERVAL_MIB") {
            guard let value = UInt64(text), value > 0, value < 1 << 30 else { throw ValidationError("--snapshot-interval-mib must be a positive number of MiB") }
            storage.snapshotEveryBytes = value << 20
        }
        if let text = Env.value(retainedLogEntries.map(String.init), "RUNNEL_RETAINED_LOG_ENTRIES") {
            guard let value = UInt64(text) else { throw ValidationError("--retained-log-entries must be 0 or more") }
            storage.retainedLogEntries = value
        }
        if let text = Env.value(groupCommitLinger.map(String.init), "RUNNEL_GROUP_COMMIT_LINGER") {
            guard let value = Int(text), value >= 0 else { throw ValidationError("--group-commit-linger must be 0 or more") }
            storage.maxLinger = .microseconds(value)
        }
        if let text = Env.value(writeTimeout.map { String($0) }, "RUNNEL_WRITE_TIMEOUT") {
            guard let value = Double(text), value > 0 else { throw ValidationError("--write-timeout must be positive") }
            storage.proposalTimeout = .milliseconds(Int64(value * 1000))
        }
        if let text = Env.value(readTimeout.map { String($0) }, "RUNNEL_READ_TIMEOUT") {
            guard let value = Double(text), value > 0 else { throw ValidationError("--read-timeout must be positive") }
            storage.readTimeout = .milliseconds(Int64(value * 1000))
        }
        let transport = try NIOPeerTransport(tls: peerTLS, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let store = try Node(configuration: storage, transport: transport, logger: logger)
        logger.info("storage open", metadata: ["data.dir": "\(dataDirectory)", "raft.applied": "\(store.appliedIndex)"])
        // Identity and peers come from the data directory once it exists (api.md §4).
        // A single node listens for peers too once it has a peer address, so members can be added.
        if store.peerAddresses.count > 1 || peerListenAddress != nil {
            let listen = peerListenAddress ?? store.peerAddresses[store.nodeID].flatMap(HostPort.init) ?? HostPort("0.0.0.0:4438")!
            let port = try await transport.start(
                nodeID: store.nodeID, identity: store.identity, peers: store.peerAddresses, host: listen.host, port: listen.port
            ) { [store] frame, from in
                store.receive(frame, from: from)
            }
            announce("runnel peers on \(listen.host):\(port)")
        }

        let scheme = server.tlsCertificatePath == nil ? "http" : "https"
        let (app, liveReads) = try RunnelServer.makeApplication(store: store, configuration: server, metrics: metrics, logger: logger) { port in
            announce("runnel listening on \(address.host):\(port) (\(scheme))")
        }
        // One lifecycle: started in this order, and on SIGTERM/SIGINT stopped in reverse: live
        // reads end, the HTTP server drains (in-flight writes finish), the node hands
        // leadership over and closes RocksDB, then the peer transport closes.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: transport), .init(service: store), .init(service: app),
                       .init(service: liveReads, successTerminationBehavior: .ignore)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped")
    }

    /// `1=host:port,2=host:port` → ids to addresses; empty for a single node.
    static func parsePeers(_ text: String?, nodeID: UInt64) throws -> [UInt64: String] {
        guard let text, !text.isEmpty else { return [:] }
        var result: [UInt64: String] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let id = UInt64(parts[0]), id > 0, HostPort(parts[1]) != nil else {
                throw ValidationError("--peers must be ID=HOST:PORT,... with positive ids, got \(item)")
            }
            guard result[id] == nil else { throw ValidationError("--peers names node \(id) twice") }
            result[id] = parts[1]
        }
        guard result[nodeID] != nil else { throw ValidationError("--peers must include this node (\(nodeID))") }
        return result
    }
}

extension Serve {
    /// The rates of `--key-requests-per-second` and `--key-bytes-per-second`.
    func defaultKeyRates() throws -> KeyRates {
        let problem = ValidationError("--key-requests-per-second must be 1 to \(KeyLimits.maxRequestsPerSecond), --key-bytes-per-second 1 to \(KeyLimits.maxBytesPerSecond)")
        var rates = KeyRates()
        if let text = Env.value(keyRequestsPerSecond.map(String.init), "RUNNEL_KEY_REQUESTS_PER_SECOND") {
            guard let value = UInt64(text) else { throw problem }
            rates.requestsPerSecond = value
        }
        if let text = Env.value(keyBytesPerSecond.map(String.init), "RUNNEL_KEY_BYTES_PER_SECOND") {
            guard let value = UInt64(text) else { throw problem }
            rates.bytesPerSecond = value
        }
        guard rates.isValid else { throw problem }
        return rates
    }

    /// The JWT verifier of the `--jwt-*` flags, or nil when no JWT key is configured.
    func jwtAuthenticator() async throws -> JWTAuthenticator? {
        let secretFile = Env.value(jwtHs256SecretFile, "RUNNEL_JWT_HS256_SECRET_FILE")
        let jwksFile = Env.value(jwtJwksFile, "RUNNEL_JWT_JWKS_FILE")
        guard secretFile != nil || jwksFile != nil else { return nil }
        var secret: [UInt8]?
        if let secretFile {
            guard let data = FileManager.default.contents(atPath: secretFile) else {
                throw ValidationError("cannot read the JWT secret file \(secretFile)")
            }
            var bytes = [UInt8](data)
            while bytes.last == 0x0A || bytes.last == 0x0D { bytes.removeLast() }
            guard bytes.count >= 32 else { throw ValidationError("the JWT HS256 secret must be at least 32 bytes") }
            secret = bytes
        }
        var jwks: String?
        if let jwksFile {
            guard let text = try? String(contentsOfFile: jwksFile, encoding: .utf8) else {
                throw ValidationError("cannot read the JWKS file \(jwksFile)")
            }
            jwks = text
        }
        var rules = JWTAuthenticator.Rules(issuer: Env.value(jwtIssuer, "RUNNEL_JWT_ISSUER"),
                                           audience: Env.value(jwtAudience, "RUNNEL_JWT_AUDIENCE"))
        if let text = Env.value(jwtLeeway.map { String($0) }, "RUNNEL_JWT_LEEWAY") {
            guard let value = Double(text), value >= 0, value <= 3600 else { throw ValidationError("--jwt-leeway must be 0 to 3600 seconds") }
            rules.leeway = value
        }
        do { return try await JWTAuthenticator.make(hmacSecret: secret, jwksJSON: jwks, rules: rules) } catch {
            throw ValidationError("unusable JWT keys: \(error)")
        }
    }

    /// Whether `host` is a loopback address (only this machine can reach it).
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The bootstrap admin token (from `file`, else `RUNNEL_ADMIN_TOKEN`) and the scope of
    /// `/metrics`. The token must be at least `AccessConfiguration.minimumTokenBytes` long;
    /// a trailing newline in the file is not part of it.
    static func accessConfiguration(tokenFile: String?, metricsScope: String) throws -> AccessConfiguration {
        var access = AccessConfiguration()
        var token: String?
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw ValidationError("cannot read the admin token file \(tokenFile)")
            }
            token = String(text.trimmingCharacters(in: .newlines))
        } else if let text = ProcessInfo.processInfo.environment["RUNNEL_ADMIN_TOKEN"], !text.isEmpty {
            token = text
        }
        if let token {
            guard AccessConfiguration.isUsableAdminToken(token) else {
                throw ValidationError("the admin token must be at least \(AccessConfiguration.minimumTokenBytes) printable ASCII characters "
                                      + "without spaces, neither starting with rnl_ nor holding two dots (the forms of API keys and JWTs)")
            }
            access.adminTokenHash = AccessConfiguration.hash(token: token)
        }
        switch metricsScope {
        case "admin": access.metricsScope = .admin
        case "read": access.metricsScope = .read
        case "open": access.metricsScope = nil
        default: throw ValidationError("--metrics-scope must be admin, read or open, got \(metricsScope)")
        }
        return access
    }
}

extension Serve {
    /// A true/false option or its environment variable (`1`/`0` too); nil when neither is set.
    static func boolean(_ option: Bool?, _ variable: String, _ name: String) throws -> Bool? {
        guard let text = Env.value(option.map { String($0) }, variable) else { return nil }
        guard let value = ["true": true, "1": true, "false": false, "0": false][text.lowercased()] else {
            throw ValidationError("\(name) is true or false")
        }
        return value
    }
}
