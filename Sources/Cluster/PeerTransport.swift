import BinaryCodec
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Raft
import Replication
import Storage
import Synchronization

/// Mutual TLS between peers: every node presents its certificate and accepts only peers whose
/// certificate chains to `caPath` (`--peer-tls-ca` with `--tls-cert`/`--tls-key`).
public struct PeerTLS: Sendable {
    public var certificatePath: String
    public var keyPath: String
    public var caPath: String

    public init(certificatePath: String, keyPath: String, caPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.caPath = caPath
    }
}

/// The peer transport over SwiftNIO TCP (docs/cluster.md "Peer transport").
///
/// Each node dials two persistent connections to every peer and sends on them only; replies
/// come back on the peer's own connections. One carries what can be large (appends, snapshot
/// chunks, forwarded writes), the other everything else (heartbeats, votes, responses): a
/// heartbeat never waits behind tens of megabytes of entries on their way (etcd splits its
/// peer streams the same way). Raft allows messages to be reordered; what must stay in
/// order (a follower's appends) shares a connection (`PeerLink.Lane`).
///
/// A connection opens with a hello frame (magic, protocol
/// version, sender id); then frames follow, each a 4-byte big-endian length and a
/// `PeerFrame`. Sends are pipelined (written and flushed without waiting for anything) and
/// never block the Raft thread: a peer that is unreachable or whose socket buffer is above
/// the high-water mark drops frames, which Raft retransmits. Lost connections are redialled
/// with exponential backoff.
public final class NIOPeerTransport: PeerTransport, @unchecked Sendable {
    private let group: any EventLoopGroup
    private let logger: Logger
    private let serverContext: NIOSSLContext?
    private let clientContext: NIOSSLContext?
    private let connections = Mutex<[NodeID: PeerLink]>([:])
    private let listener = Mutex<(any Channel)?>(nil)
    /// This node's id (set by `start`) and the peers to keep connections to.
    private let plan = Mutex(Plan())

    /// Largest frame accepted. A Raft append carries up to about `maxMessageBytes` of entries
    /// but always at least one, and a forward at least one command, so a frame must hold the
    /// largest command: a body at the HTTP body limit (`ServerConfiguration.largestBodyLimit`)
    /// plus its headers and framing, for which 1 MiB is far more than enough.
    public static let maxFrameBytes = (64 << 20) + (1 << 20)

    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Loads the TLS material (a bad file stops startup here); nothing listens or dials until
    /// ``start(nodeID:peers:host:port:deliver:)``.
    public init(tls: PeerTLS?, group: any EventLoopGroup, logger: Logger) throws {
        self.group = group
        self.logger = logger
        if let tls {
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(tls.certificatePath).map { NIOSSLCertificateSource.certificate($0) }
                let key = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(file: tls.keyPath, format: .pem))
                let roots = NIOSSLTrustRoots.certificates(try NIOSSLCertificate.fromPEMFile(tls.caPath))
                var server = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
                server.trustRoots = roots
                server.certificateVerification = .noHostnameVerification
                var client = TLSConfiguration.makeClientConfiguration()
                client.certificateChain = chain
                client.privateKey = key
                client.trustRoots = roots
                client.certificateVerification = .noHostnameVerification
                serverContext = try NIOSSLContext(configuration: server)
                clientContext = try NIOSSLContext(configuration: client)
            } catch {
                throw StartupError(description: "cannot set up peer TLS: \(error)")
            }
        } else {
            serverContext = nil
            clientContext = nil
        }
    }

    /// Listens on `host:port` for peers (port 0 picks one; the bound port is returned) and
    /// dials every other member of `peers` (id → `HOST:PORT`), unless ``setPeers(_:)`` was
    /// called before (the node's own view, which wins). Frames received are handed to
    /// `deliver` with the sender's id.
    public func start(
        nodeID: NodeID, identity: ClusterIdentity, peers: [NodeID: String], host: String, port: Int,
        deliver: @escaping @Sendable (PeerFrame, NodeID) -> Void
    ) async throws -> Int {
        let hello = Hello(nodeID: nodeID, identity: identity)
        for (id, address) in peers where id != nodeID {
            guard HostPort(address) != nil else {
                throw StartupError(description: "peer \(id) has an invalid address \(address) (want HOST:PORT)")
            }
        }
        let serverContext = self.serverContext
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let serverContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverContext))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: Self.maxFrameBytes)))
                    try channel.pipeline.syncOperations.addHandler(InboundPeerHandler(local: hello, logger: logger, deliver: deliver))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            throw StartupError(description: "cannot listen for peers on \(host):\(port): \(error)")
        }
        listener.withLock { $0 = channel }
        reconcile { p in
            p.hello = hello
            if p.wanted == nil { p.wanted = peers }
        }
        return channel.localAddress?.port ?? port
    }

    public func send(_ frames: [PeerFrame], to peer: NodeID) {
        guard let link = connections.withLock({ $0[peer] }) else { return }
        var control: [PeerFrame] = []
        var bulk: [PeerFrame] = []
        for frame in frames {
            switch PeerLink.Lane(frame) {
            case .bulk: bulk.append(frame)
            case .control: control.append(frame)
            }
        }
        if !bulk.isEmpty { link.bulk.send(bulk) }
        if !control.isEmpty { link.control.send(control) }
    }

    /// Keeps connections to exactly `peers` (docs/cluster.md "Membership changes"): dials new
    /// ones and ones whose address changed, closes the others. Before ``start(nodeID:peers:host:port:deliver:)``
    /// it only records them. Invalid addresses are skipped (logged).
    public func setPeers(_ peers: [NodeID: String]) {
        reconcile { $0.wanted = peers }
    }

    private struct Plan {
        /// Set by `start`: this node's hello (its id and identity).
        var hello: Hello?
        var wanted: [NodeID: String]?
    }

    /// Applies `change` to the plan and, once started, makes the connections match it.
    private func reconcile(_ change: (inout Plan) -> Void) {
        let (opened, closed) = plan.withLock { p -> ([PeerLink], [PeerLink]) in
            change(&p)
            guard let hello = p.hello, let wanted = p.wanted else { return ([], []) }
            let nodeID = hello.nodeID
            return connections.withLock { current in
                var opened: [PeerLink] = []
                var closed: [PeerLink] = []
                for (id, connection) in current where wanted[id].flatMap(HostPort.init) != connection.address || id == nodeID {
                    closed.append(connection)
                    current[id] = nil
                }
                for (id, address) in wanted where id != nodeID && current[id] == nil {
                    guard let target = HostPort(address) else {
                        logger.warning("peer address is not HOST:PORT; not dialling", metadata: ["peer": "\(id)", "address": "\(address)"])
                        continue
                    }
                    let link = PeerLink(
                        control: PeerConnection(hello: hello, to: id, lane: .control, address: target, tls: clientContext, group: group, logger: logger),
                        bulk: PeerConnection(hello: hello, to: id, lane: .bulk, address: target, tls: clientContext, group: group, logger: logger))
                    current[id] = link
                    opened.append(link)
                }
                return (opened, closed)
            }
        }
        for connection in closed { connection.close() }
        for connection in opened { connection.connect() }
        if !opened.isEmpty || !closed.isEmpty {
            logger.debug("peer connections changed", metadata: [
                "peers.dialled": "\(opened.map(\.peer))", "peers.closed": "\(closed.map(\.peer))"])
        }
    }

    /// Closes the listener and every connection.
    public func shutdown() async {
        for connection in connections.withLock({ $0.values }) { connection.close() }
        if let channel = listener.withLock({ $0 }) {
            try? await channel.close()
        }
    }
}

/// The hello a dialling node sends first: magic "RNLP", protocol version, its id, its cluster
/// id and its data directory's incarnation (docs/state-transfer.md §5).
struct Hello: Equatable {
    static let magic: [UInt8] = Array("RNLP".utf8)
    static let size = 4 + 1 + 8 + 16 + 8

    var nodeID: NodeID
    var identity: ClusterIdentity

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: Self.size)
        w.raw(Self.magic)
        w.u8(PeerFrame.protocolVersion)
        w.u64(nodeID)
        identity.clusterID.encode(into: &w)
        w.u64(identity.incarnation)
        return w.bytes
    }

    /// `nil` for anything but a hello of this protocol version.
    init?(decoding bytes: [UInt8]) {
        guard bytes.count == Self.size, Array(bytes[0..<4]) == Self.magic, bytes[4] == PeerFrame.protocolVersion else { return nil }
        var r = ByteReader(bytes)
        do {
            _ = try r.u32()  // magic and version, checked above
            _ = try r.u8()
            nodeID = try r.u64()
            identity = ClusterIdentity(clusterID: try ClusterID(from: &r), incarnation: try r.u64())
        } catch {
            return nil
        }
    }

    init(nodeID: NodeID, identity: ClusterIdentity) {
        self.nodeID = nodeID
        self.identity = identity
    }
}

/// Splits the byte stream into frames: a 4-byte big-endian length, then that many bytes.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maxFrameBytes: Int

    struct FrameTooLarge: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= maxFrameBytes else { throw FrameTooLarge() }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(Self.wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

/// Reads the hello, then hands every frame to `deliver` tagged with the sender.
final class InboundPeerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let local: Hello
    private let logger: Logger
    private let deliver: @Sendable (PeerFrame, NodeID) -> Void
    private var peer: NodeID?

    init(local: Hello, logger: Logger, deliver: @escaping @Sendable (PeerFrame, NodeID) -> Void) {
        self.local = local
        self.logger = logger
        self.deliver = deliver
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        guard let peer else {
            guard let hello = Hello(decoding: bytes) else {
                logger.warning("peer connection without a valid hello (wrong protocol version?); closing",
                               metadata: ["remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
                context.close(promise: nil)
                return
            }
            guard hello.identity.clusterID == local.identity.clusterID else {
                logger.error("refusing a peer of another cluster", metadata: [
                    "peer": "\(hello.nodeID)", "peer.cluster": "\(hello.identity.clusterID)",
                    "cluster": "\(local.identity.clusterID)",
                    "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
                context.close(promise: nil)
                return
            }
            self.peer = hello.nodeID
            return
        }
        do {
            deliver(try PeerFrame(decoding: bytes), peer)
        } catch {
            logger.warning("undecodable peer frame; closing", metadata: ["peer": "\(peer)", "error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("peer connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// The two outbound connections to one peer (see ``NIOPeerTransport``).
struct PeerLink {
    let control: PeerConnection
    let bulk: PeerConnection
    var address: HostPort { control.address }
    var peer: NodeID { control.peer }

    func connect() {
        control.connect()
        bulk.connect()
    }

    func close() {
        control.close()
        bulk.close()
    }

    /// Which of the two connections a frame goes on.
    enum Lane: String {
        /// Frames that may be large, and those that must stay in order with them: every
        /// append (an empty one overtaking a full one would be rejected and cost a resend),
        /// snapshot chunks, forwarded writes.
        case bulk
        /// Everything else: heartbeats, votes, responses, read forwards, forward answers,
        /// membership and admission frames.
        case control

        init(_ frame: PeerFrame) {
            switch frame {
            case .raft(let message):
                switch message.payload {
                case .append, .snapshotChunk: self = .bulk
                default: self = .control
                }
            case .forward: self = .bulk
            default: self = .control
            }
        }
    }
}

/// One outbound connection to a peer: dialled on start, redialled with backoff when lost.
final class PeerConnection: @unchecked Sendable {
    private struct State {
        var channel: (any Channel)?
        var connecting = false
        var closed = false
        var backoffMilliseconds: Int64 = 50
        var loggedDown = false
    }

    private let hello: Hello
    private let to: NodeID
    /// Which of the peer's connections this is, for the logs.
    private let lane: PeerLink.Lane
    /// The peer's address (compared when the peer set changes).
    let address: HostPort
    var peer: NodeID { to }
    private let tls: NIOSSLContext?
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())

    init(hello: Hello, to: NodeID, lane: PeerLink.Lane, address: HostPort, tls: NIOSSLContext?, group: any EventLoopGroup, logger: Logger) {
        self.hello = hello
        self.to = to
        self.lane = lane
        self.address = address
        self.tls = tls
        self.group = group
        self.logger = logger
    }

    /// Sends `frames` in order. They are encoded on the connection's event loop, where a
    /// write from another thread goes anyway: encoding an entry of tens of megabytes on the
    /// Raft thread would hold up its ticks and heartbeats.
    func send(_ frames: [PeerFrame]) {
        guard let channel = state.withLock({ $0.channel }) else { return }  // down: Raft retransmits
        channel.eventLoop.execute {
            // Above the high-water mark the peer is not keeping up: drop, as the network would.
            guard channel.isWritable else { return }
            var buffer = channel.allocator.buffer(capacity: 256)
            for frame in frames {
                let bytes = frame.encoded()
                buffer.writeInteger(UInt32(bytes.count))
                buffer.writeBytes(bytes)
            }
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    func connect() {
        let proceed = state.withLock { s -> Bool in
            guard !s.closed, !s.connecting, s.channel == nil else { return false }
            s.connecting = true
            return true
        }
        guard proceed else { return }
        let tls = self.tls
        let host = address.host
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: 4 << 20, high: 16 << 20))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handler = try NIOSSLClientHandler(context: tls, serverHostname: Self.isIPAddress(host) ? nil : host)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    // Outbound only; anything the peer sends back on it is discarded.
                    try channel.pipeline.syncOperations.addHandler(DiscardInbound())
                }
            }
        bootstrap.connect(host: address.host, port: address.port).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                let bytes = hello.encoded()
                var buffer = channel.allocator.buffer(capacity: 4 + bytes.count)
                buffer.writeInteger(UInt32(bytes.count))
                buffer.writeBytes(bytes)
                channel.writeAndFlush(buffer, promise: nil)
                let wasDown = state.withLock { s -> Bool in
                    s.channel = channel
                    s.connecting = false
                    s.backoffMilliseconds = 50
                    defer { s.loggedDown = false }
                    return s.loggedDown
                }
                logger.log(level: wasDown ? .info : .debug, "connected to peer", metadata: ["peer": "\(to)", "lane": "\(lane.rawValue)"])
                channel.closeFuture.whenComplete { [self] _ in
                    state.withLock { if $0.channel === channel { $0.channel = nil } }
                    scheduleReconnect()
                }
            case .failure(let error):
                let first = state.withLock { s -> Bool in
                    s.connecting = false
                    defer { s.loggedDown = true }
                    return !s.loggedDown
                }
                if first {
                    logger.info("peer unreachable; retrying", metadata: [
                        "peer": "\(to)", "lane": "\(lane.rawValue)", "address": "\(host):\(address.port)", "error": "\(error)"])
                }
                scheduleReconnect()
            }
        }
    }

    private func scheduleReconnect() {
        let delay = state.withLock { s -> Int64? in
            guard !s.closed else { return nil }
            let d = s.backoffMilliseconds
            s.backoffMilliseconds = min(s.backoffMilliseconds * 2, 1000)
            return d
        }
        guard let delay else { return }
        group.next().scheduleTask(in: .milliseconds(delay)) { [self] in connect() }
    }

    func close() {
        let channel = state.withLock { s -> (any Channel)? in
            s.closed = true
            return s.channel
        }
        channel?.close(promise: nil)
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

final class DiscardInbound: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
