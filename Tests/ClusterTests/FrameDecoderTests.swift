@testable import Cluster
import Logging
import NIOCore
import NIOEmbedded
import NIOTestUtils
@testable import Raft
import SeededRandom
import Replication
import Storage
import Synchronization
import Testing

/// Drip-feed tests of the peer wire (docs/cluster.md "Peer transport"): `FrameDecoder` splits
/// a byte stream into length-prefixed frames however the bytes arrive, and refuses a hostile
/// length before buffering for it; `InboundPeerHandler` closes on anything that is not a
/// hello followed by decodable `PeerFrame`s.
@Suite struct FrameDecoderTests {
    /// One frame of every kind, with bodies large enough to span many reads.
    static let frames: [PeerFrame] = [
        .raft(Message(from: 1, to: 2, term: 3, payload: .heartbeat(commit: 7, readRound: 2))),
        .raft(Message(from: 2, to: 1, term: 3, payload: .append(
            prevIndex: 4, prevTerm: 3,
            entries: (5...8).map { Entry(term: 3, index: $0, data: Array(repeating: UInt8($0), count: 300)) },
            commit: 4))),
        .forward(term: 3, [
            TaggedCommand(tag: ProposalTag(origin: 2, seq: 1), command: Array(0..<200)),
            TaggedCommand(tag: ProposalTag(origin: 2, seq: 2), command: []),
        ]),
        .forwardAccepted([(seq: UInt64(1), position: LogPosition(index: 9, term: 3)), (seq: UInt64(2), position: LogPosition(index: 9, term: 3))]),
        .forwardRejected(seqs: [3, 4], reason: .notLeader, leaderHint: 1),
        .forwardRejected(seqs: [], reason: .busy, leaderHint: 0),
        .clusterQuery(incarnation: 7),
        .clusterInfo(clusterID: ClusterID(high: 1, low: 2), established: true, incarnation: 9),
    ]

    /// `bytes` with the transport's 4-byte big-endian length prefix, as `PeerConnection` sends it.
    static func prefixed(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
        return buffer
    }

    static func decoderChannel(maxFrameBytes: Int = NIOPeerTransport.maxFrameBytes) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
        return channel
    }

    /// Every frame read from `channel` so far, decoded.
    static func drain(_ channel: EmbeddedChannel) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        while var frame = try channel.readInbound(as: ByteBuffer.self) {
            out.append(frame.readBytes(length: frame.readableBytes)!)
        }
        return out
    }

    @Test func verifierDripFeedsAndBatchesFrames() throws {
        let pairs = Self.frames.map { frame -> (ByteBuffer, [ByteBuffer]) in
            let bytes = frame.encoded()
            return (Self.prefixed(bytes), [ByteBuffer(bytes: bytes)])
        } + [(Self.prefixed([]), [ByteBuffer()])]  // an empty frame is a frame
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            FrameDecoder(maxFrameBytes: NIOPeerTransport.maxFrameBytes)
        }
    }

    @Test func byteByByteYieldsEachFrameOnItsLastByte() throws {
        let channel = try Self.decoderChannel()
        var stream: [UInt8] = []
        var ends: [Int] = []
        for frame in Self.frames {
            stream += Array(Self.prefixed(frame.encoded()).readableBytesView)
            ends.append(stream.count)
        }
        var decoded: [[UInt8]] = []
        for (i, byte) in stream.enumerated() {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            let out = try Self.drain(channel)
            // A frame appears exactly when its last byte arrives, never earlier.
            #expect(out.count == (ends.contains(i + 1) ? 1 : 0), "after byte \(i)")
            decoded += out
        }
        #expect(decoded == Self.frames.map { $0.encoded() })
        #expect(try channel.finish().isClean)
    }

    @Test(arguments: [1, 2, 3, 42, 0xDEAD_BEEF] as [UInt64])
    func randomSplitsDecodeTheSameFrames(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var stream: [UInt8] = []
        for _ in 0..<5 {
            for frame in Self.frames { stream += Array(Self.prefixed(frame.encoded()).readableBytesView) }
        }
        let channel = try Self.decoderChannel()
        var decoded: [[UInt8]] = []
        var at = 0
        while at < stream.count {
            let n = min(Int.random(in: 1...700, using: &random), stream.count - at)
            try channel.writeInbound(ByteBuffer(bytes: stream[at..<at + n]))
            decoded += try Self.drain(channel)
            at += n
        }
        let expected = Array(repeating: Self.frames.map { $0.encoded() }, count: 5).flatMap { $0 }
        #expect(decoded == expected, "seed \(seed)")
        // Every decoded frame is a valid PeerFrame that re-encodes to the same bytes.
        for bytes in decoded { #expect(try PeerFrame(decoding: bytes).encoded() == bytes) }
        #expect(try channel.finish().isClean)
    }

    @Test func severalFramesInOneBufferAllComeOut() throws {
        let channel = try Self.decoderChannel()
        var buffer = ByteBuffer()
        for frame in Self.frames { buffer.writeImmutableBuffer(Self.prefixed(frame.encoded())) }
        // Plus the first 3 bytes of a next frame's prefix: kept for later, not decoded.
        buffer.writeBytes([0, 0, 0])
        try channel.writeInbound(buffer)
        #expect(try Self.drain(channel) == Self.frames.map { $0.encoded() })
        try channel.writeInbound(ByteBuffer(bytes: [2, 0xAA, 0xBB]))
        #expect(try Self.drain(channel) == [[0xAA, 0xBB]])
        #expect(try channel.finish().isClean)
    }

    @Test func truncatedFrameYieldsNothing() throws {
        let whole = Array(Self.prefixed(Self.frames[1].encoded()).readableBytesView)
        for cut in [1, 3, 4, 5, whole.count / 2, whole.count - 1] {
            let channel = try Self.decoderChannel()
            try channel.writeInbound(ByteBuffer(bytes: whole[..<cut]))
            #expect(try Self.drain(channel).isEmpty, "cut at \(cut)")
            // The connection ends mid-frame: the partial frame is dropped, not delivered.
            _ = try channel.finish()
            #expect(try Self.drain(channel).isEmpty, "cut at \(cut)")
        }
    }

    @Test func lengthAboveTheLimitFailsOnThePrefixAlone() throws {
        // The 4 prefix bytes alone fail the decoder: it neither waits for nor buffers the
        // declared size.
        for length in [UInt32.max, UInt32(NIOPeerTransport.maxFrameBytes) + 1] {
            let channel = try Self.decoderChannel()
            var prefix = ByteBuffer()
            prefix.writeInteger(length)
            #expect(throws: FrameDecoder.FrameTooLarge.self) { try channel.writeInbound(prefix) }
            #expect(try Self.drain(channel).isEmpty)
            _ = try? channel.finish()
        }
        // At a small limit: exactly the limit passes, one more byte fails.
        let channel = try Self.decoderChannel(maxFrameBytes: 8)
        try channel.writeInbound(Self.prefixed(Array(repeating: 7, count: 8)))
        #expect(try Self.drain(channel) == [Array(repeating: 7, count: 8)])
        #expect(throws: FrameDecoder.FrameTooLarge.self) {
            try channel.writeInbound(Self.prefixed(Array(repeating: 7, count: 9)))
        }
        _ = try? channel.finish()
    }

    /// Except where an older peer's frame ends: cluster queries and answers without their
    /// trailing incarnation, which decode with incarnation 0.
    @Test func everyStrictPrefixOfAFrameFailsToDecode() {
        for frame in Self.frames {
            let bytes = frame.encoded()
            let legacyEnd: Int? = switch frame {
            case .clusterQuery, .clusterInfo: bytes.count - 8
            default: nil
            }
            for cut in 0..<bytes.count where cut != legacyEnd {
                #expect(throws: (any Error).self, "\(frame) cut at \(cut)") { try PeerFrame(decoding: Array(bytes[..<cut])) }
            }
        }
    }

    @Test func clusterFramesOfAnOlderPeerDecodeWithAnUnknownIncarnation() throws {
        let query = PeerFrame.clusterQuery(incarnation: 5).encoded().dropLast(8)
        guard case .clusterQuery(0) = try PeerFrame(decoding: Array(query)) else { Issue.record("not a query of incarnation 0"); return }
        let info = PeerFrame.clusterInfo(clusterID: ClusterID(high: 1, low: 2), established: true, incarnation: 5).encoded().dropLast(8)
        guard case .clusterInfo(_, true, 0) = try PeerFrame(decoding: Array(info)) else { Issue.record("not an answer of incarnation 0"); return }
    }

    @Test func randomGarbageNeverTraps() {
        var random = SplitMix64(seed: 14)
        var decoded = 0
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...64, using: &random)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            // Half the time a valid version and kind, so the bodies are exercised too.
            if bytes.count >= 2, Bool.random(using: &random) {
                bytes[0] = PeerFrame.protocolVersion
                bytes[1] = UInt8.random(in: 1...4, using: &random)
            }
            if (try? PeerFrame(decoding: bytes)) != nil { decoded += 1 }
        }
        // Random bytes rarely form a frame; what matters is that none trapped.
        #expect(decoded < 20_000)
    }
}

/// The receiving side of a peer connection: decoder plus `InboundPeerHandler`.
@Suite struct InboundPeerHandlerTests {
    final class Delivered: Sendable {
        let frames = Mutex<[(bytes: [UInt8], from: NodeID)]>([])
    }

    static func pipeline() throws -> (EmbeddedChannel, Delivered) {
        let delivered = Delivered()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: NIOPeerTransport.maxFrameBytes)))
        try channel.pipeline.syncOperations.addHandler(InboundPeerHandler(local: Hello(nodeID: 1, identity: identity), logger: logger) { frame, from in
            delivered.frames.withLock { $0.append((frame.encoded(), from)) }
        })
        return (channel, delivered)
    }

    static let identity = ClusterIdentity(clusterID: ClusterID(high: 7, low: 11), incarnation: 42)

    static func hello(_ id: NodeID, cluster: ClusterID = identity.clusterID) -> [UInt8] {
        Hello(nodeID: id, identity: ClusterIdentity(clusterID: cluster, incarnation: 100 + id)).encoded()
    }

    @Test func aHelloRoundTrips() {
        let hello = Hello(nodeID: 9, identity: Self.identity)
        #expect(Hello(decoding: hello.encoded()) == hello)
    }

    @Test func aPeerOfAnotherClusterIsRefused() throws {
        let (channel, delivered) = try Self.pipeline()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(FrameDecoderTests.prefixed(Self.hello(2, cluster: ClusterID(high: 7, low: 12))))
        _ = try? channel.writeInbound(FrameDecoderTests.prefixed(FrameDecoderTests.frames[0].encoded()))
        #expect(!channel.isActive)
        #expect(delivered.frames.withLock { $0.isEmpty })
    }

    @Test func helloThenFramesDripFedAreDeliveredFromThePeer() throws {
        let (channel, delivered) = try Self.pipeline()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var stream = Array(FrameDecoderTests.prefixed(Self.hello(3)).readableBytesView)
        for frame in FrameDecoderTests.frames { stream += Array(FrameDecoderTests.prefixed(frame.encoded()).readableBytesView) }
        for byte in stream { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        let got = delivered.frames.withLock { $0 }
        #expect(got.map(\.bytes) == FrameDecoderTests.frames.map { $0.encoded() })
        #expect(got.allSatisfy { $0.from == 3 })
        #expect(channel.isActive)
        _ = try channel.finish()
    }

    @Test(arguments: [
        Array("RNLP".utf8) + [PeerFrame.protocolVersion &+ 1] + Array(repeating: 0, count: 32),  // wrong version
        Array("HTTP".utf8) + [PeerFrame.protocolVersion] + Array(repeating: 0, count: 32),      // wrong magic
        Array("RNLP".utf8) + [1] + Array(repeating: 0, count: 8),                               // version 1
        Array("RNLP".utf8) + [PeerFrame.protocolVersion],                                       // short
        [],
    ])
    func badHelloCloses(hello: [UInt8]) throws {
        let (channel, delivered) = try Self.pipeline()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(FrameDecoderTests.prefixed(hello))
        _ = try? channel.writeInbound(FrameDecoderTests.prefixed(FrameDecoderTests.frames[0].encoded()))
        #expect(!channel.isActive)
        #expect(delivered.frames.withLock { $0.isEmpty })
    }

    @Test func undecodableFrameAfterHelloCloses() throws {
        let (channel, delivered) = try Self.pipeline()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(FrameDecoderTests.prefixed(Self.hello(2)))
        try channel.writeInbound(FrameDecoderTests.prefixed(FrameDecoderTests.frames[0].encoded()))
        _ = try? channel.writeInbound(FrameDecoderTests.prefixed([PeerFrame.protocolVersion, 0xEE, 1, 2, 3]))  // unknown kind
        #expect(!channel.isActive)
        #expect(delivered.frames.withLock { $0.count } == 1)
    }

    @Test func oversizedLengthClosesTheConnection() throws {
        let (channel, delivered) = try Self.pipeline()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(FrameDecoderTests.prefixed(Self.hello(2)))
        var prefix = ByteBuffer()
        prefix.writeInteger(UInt32.max)
        // The decoder's error reaches `errorCaught`, which closes; EmbeddedChannel rethrows it.
        _ = try? channel.writeInbound(prefix)
        #expect(!channel.isActive)
        #expect(delivered.frames.withLock { $0.isEmpty })
    }
}
