import SeededRandom
import Testing
@testable import StreamModel

/// Commands no valid request produces, but a log entry might carry: names that differ only
/// by Unicode normalization or are invalid, numbers at and past their limits, every field at
/// its extreme. Applying them must never trap, must agree on two replicas, and must keep the
/// model's bookkeeping exact (issue 13, "apply can never trap").
struct AdversarialGenerator {
    var base: CommandGenerator
    var rng: SplitMix64 {
        get { base.rng }
        set { base.rng = newValue }
    }

    init(seed: UInt64) { base = CommandGenerator(rng: SplitMix64(seed: seed)) }

    static let names = [
        "caf\u{E9}", "cafe\u{301}", "\u{212B}", "\u{C5}", "A\u{30A}", "s0", "s1", "a/b", "a//b", "..", ".", "",
        "x\u{0}y", "\u{FFFD}", String(repeating: "n", count: Identifiers.maxStreamNameBytes),
        String(repeating: "n", count: Identifiers.maxStreamNameBytes + 1),
    ]
    static let buckets = [defaultBucket, "b1", "B1", "b\u{301}", "", "b/1", String(repeating: "b", count: 65)]
    static let producers = ["p", "caf\u{E9}", "cafe\u{301}", "\u{FFFD}", "", String(repeating: "p", count: 257)]
    static let numbers: [UInt64] = [0, 1, 2, ProducerLimits.maxNumber - 1, ProducerLimits.maxNumber,
                                    ProducerLimits.maxNumber + 1, .max - 1, .max]
    static let positions: [UInt64] = [0, 1, 3, Offset.maxPosition - 1, Offset.maxPosition, Offset.maxPosition + 1, .max]

    mutating func path() -> StreamPath {
        StreamPath(bucket: rng.chance(70) ? defaultBucket : rng.pick(Self.buckets), name: rng.pick(Self.names))
    }

    mutating func producerTuple() -> ProducerTuple {
        ProducerTuple(id: rng.pick(Self.producers), epoch: rng.pick(Self.numbers), seq: rng.pick(Self.numbers))
    }

    mutating func expiry() -> Expiry {
        switch rng.below(6) {
        case 0: .ttl(seconds: rng.pick([0, 1, UInt64(Int64.max / 1000), UInt64(Int64.max / 1000) + 1, .max]))
        case 1: .at(milliseconds: rng.pick([Int64.min, -1, 0, t0, Int64.max]))
        default: .never
        }
    }

    /// A command from the ordinary generator with one or more fields made hostile.
    mutating func next(model: StreamModel, now: Int64) -> Command {
        var command = base.next(model: model, now: now)
        guard rng.chance(60) else { return command }
        switch command {
        case .createBucket:
            command = .createBucket(rng.pick(Self.buckets))
        case .deleteBucket:
            command = .deleteBucket(rng.pick(Self.buckets))
        case .create(var create):
            create.path = path()
            if rng.chance(30) { create.expiry = expiry() }
            if var fork = create.fork {
                fork.source = rng.chance(50) ? path() : fork.source
                if rng.chance(50) { fork.offset = Offset(epoch: rng.pick([0, .max]), position: rng.pick(Self.positions)) }
                if rng.chance(20) { fork.subOffset = rng.pick(Self.numbers) }
                create.fork = fork
            }
            command = .create(create)
        case .append(var append):
            append.path = rng.chance(50) ? path() : append.path
            if rng.chance(50) { append.producer = producerTuple() }
            if rng.chance(10) { append.streamSeq = rng.pick(["", "\u{FFFD}", "caf\u{E9}", "cafe\u{301}"]) }
            command = .append(append)
        case .delete:
            command = .delete(path())
        case .touch:
            command = .touch((0..<rng.below(3)).map { _ in path() })
        case .expire:
            break
        case .snapshotChunk(var chunk):
            chunk.path = path()
            if rng.chance(30) { chunk.blobID = rng.pick([0, 1, .max]) }
            if rng.chance(20) { chunk.index = rng.pick([0, 1, .max]) }
            if rng.chance(10) { chunk.bytes = [] }
            command = .snapshotChunk(chunk)
        case .publishSnapshot(var publish):
            publish.path = rng.chance(50) ? path() : publish.path
            if rng.chance(30) { publish.offset = Offset(epoch: rng.pick([0, .max]), position: rng.pick(Self.positions)) }
            if rng.chance(20) { publish.digest = rng.pick([[], [1], Array(repeating: 0, count: 64)]) }
            if rng.chance(20) { publish.size = rng.pick(Self.numbers) }
            if rng.chance(10) { publish.contentType = String(repeating: "t", count: 2000) }
            command = .publishSnapshot(publish)
        case .deleteSnapshot(_, let offset):
            command = .deleteSnapshot(path(), offset)
        case .retain(_, let target):
            command = .retain(path(), rng.chance(50) ? target : .offset(Offset(position: rng.pick(Self.positions))))
        case .createKey(var key):
            if rng.chance(30) { key.id = rng.pick(["", "XYZ", "0123456789ABCDEF", String(repeating: "a", count: 17), "caf\u{E9}"]) }
            if rng.chance(20) { key.secretHash = rng.pick([[], [1], Array(repeating: 0, count: 64)]) }
            if rng.chance(20) { key.scopes = rng.pick([[], Array(repeating: Scope(.read), count: 40), [Scope(.admin, bucketPattern: "x")]]) }
            if rng.chance(10) { key.name = String(repeating: "n", count: 200) }
            if rng.chance(20) {
                key.rates = KeyRates(requestsPerSecond: rng.pick([nil, 0, 1, .max]), bytesPerSecond: rng.pick([nil, 0, 1 << 41, .max]))
            }
            command = .createKey(key)
        case .setBucketLimit(_, let limit):
            command = .setBucketLimit(rng.pick(Self.buckets), maxStoredBytes: rng.chance(50) ? limit : rng.pick(Self.numbers))
        case .revokeKey:
            command = .revokeKey(rng.pick(["", "zz", String(repeating: "f", count: 16), "\u{FFFD}"]))
        }
        return command
    }

    mutating func advance() -> Int64 {
        rng.chance(1) ? ProducerLimits.idleExpiryMilliseconds : base.advance()
    }
}

@Suite struct AdversarialTests {
    @Test(arguments: [11, 12, 13, 0xBAD_C0DE] as [UInt64])
    func hostileCommandsKeepTheModelExact(seed: UInt64) {
        var generator = AdversarialGenerator(seed: seed)
        var replicas = ReplicaPair()
        var now = t0
        var rejections: Set<String> = []
        for step in 0..<4_000 {
            now += generator.advance()
            let command = generator.next(model: replicas.a, now: now)
            let applied = replicas.apply(command, now: now)
            guard applied.divergence == nil else {
                Issue.record("seed \(seed) step \(step): replicas diverged on \(command)")
                return
            }
            if case .rejected(let error) = applied.result { rejections.insert(error.code.rawValue) }
            let violations = DeterminismTests.invariantViolations(replicas.a)
                + DeterminismTests.transitionViolations(applied.before, replicas.a, command, applied.result, applied.effects)
                + Self.identityViolations(replicas.a)
            guard violations.isEmpty else {
                Issue.record("seed \(seed) step \(step): \(command) → \(applied.result) broke: \(violations)")
                return
            }
        }
        #expect(replicas.a.streams == replicas.b.streams && replicas.a.buckets == replicas.b.buckets)
        for code in ["invalid_command", "invalid_bucket", "invalid_producer_id"] {
            #expect(rejections.contains(code), "seed \(seed): never rejected with \(code): \(rejections.sorted())")
        }
    }

    /// Every name in the model is one a request could have created, and no two stream keys
    /// share bytes.
    static func identityViolations(_ model: StreamModel) -> [String] {
        var problems: [String] = []
        var keys: Set<[UInt8]> = []
        for path in model.streams.keys {
            if !Identifiers.isValidBucket(path.bucket) || !Identifiers.isValidStreamName(path.name, allowSlash: true) {
                problems.append("invalid name \(Array(path.bucket.utf8)) / \(Array(path.name.utf8))")
            }
            if !keys.insert(Array(path.bucket.utf8) + [0] + Array(path.name.utf8)).inserted {
                problems.append("two streams share the key of \(path)")
            }
        }
        for meta in model.streams.values {
            if meta.producers.count > ProducerLimits.maxPerStream { problems.append("\(meta.path): too many producers") }
            if meta.tail.position > Offset.maxPosition { problems.append("\(meta.path): tail past the largest offset") }
            for (id, state) in meta.producers where !Identifiers.isValidProducerID(id.value)
                || state.epoch > ProducerLimits.maxNumber || state.lastSeq > ProducerLimits.maxNumber {
                problems.append("\(meta.path): producer \(Array(id.value.utf8)) out of range")
            }
        }
        return problems
    }

    /// Counters at their limits: each command that would overflow one is refused and
    /// changes nothing.
    @Test func countersAtTheirLimitsAreRefusedNotTrapped() {
        let full = StreamMeta(
            id: 7, path: path("full"), contentType: "text/plain", expiry: .never, createdAt: t0, lastWriteAt: t0,
            lastAccessAt: t0, base: .zero, tail: Offset(position: Offset.maxPosition - 1), closed: false, closedBy: nil,
            producers: ["p": ProducerState(epoch: ProducerLimits.maxNumber, lastSeq: ProducerLimits.maxNumber, lastUsedAt: t0)],
            lastStreamSeq: nil, fork: nil, forkCount: UInt64.max, softDeleted: false)
        var model = StreamModel(
            buckets: [BucketMeta(name: defaultBucket, createdAt: 0, streamCount: 1)], streams: [full], nextStreamID: UInt64.max)
        let cases: [(Command, ModelError.Code)] = [
            (append("full", "ab"), .capacityExhausted),
            (create("other"), .capacityExhausted),
            (fork("f", from: "full"), .capacityExhausted),
            (append("full", "a", producer: producer("p", ProducerLimits.maxNumber, ProducerLimits.maxNumber + 1)), .invalidCommand),
            (append("full", "a", producer: producer("p", .max, 0)), .invalidCommand),
        ]
        for (command, code) in cases {
            let before = model
            var effects = ApplyEffects()
            let result = model.apply(command, now: t0 + 1, effects: &effects)
            #expect(Expected.rejected(code).matches(result), "\(command): \(result)")
            #expect(model.streams == before.streams && model.buckets == before.buckets && model.nextStreamID == before.nextStreamID)
            #expect(effects.isEmpty)
        }
        // The last byte that fits is accepted; the producer at its largest seq is a duplicate.
        var effects = ApplyEffects()
        #expect(Expected.appended(next: Offset.maxPosition, wrote: true).matches(model.apply(append("full", "z"), now: t0, effects: &effects)))
        let top = ProducerLimits.maxNumber
        #expect(Expected.appended(duplicate: true, producer: Echo(top, top)).matches(
            model.apply(append("full", "z", producer: producer("p", ProducerLimits.maxNumber, 5)), now: t0, effects: &effects)))
    }

    /// Removal never underflows a count, even when the counts were already wrong (data
    /// written by versions with the aliasing bug).
    @Test func removingWithWrongCountsSaturates() {
        let source = StreamMeta(
            id: 1, path: path("src"), contentType: "text/plain", expiry: .never, createdAt: t0, lastWriteAt: t0,
            lastAccessAt: t0, base: .zero, tail: .zero, closed: false, closedBy: nil, producers: [:], lastStreamSeq: nil,
            fork: nil, forkCount: 0, softDeleted: true)
        var forked = source
        forked.id = 2
        forked.path = path("fork")
        forked.softDeleted = false
        forked.fork = ForkOrigin(sourceID: 1, sourcePath: path("src"), offset: .zero, offsetGiven: false, subOffset: 0)
        var model = StreamModel(buckets: [BucketMeta(name: defaultBucket, createdAt: 0, streamCount: 0)],
                                streams: [source, forked], nextStreamID: 3)
        var effects = ApplyEffects()
        #expect(model.apply(delete("fork"), now: t0, effects: &effects) == .deleted)
        #expect(model.buckets[defaultBucket]?.streamCount == 0)
        #expect(model.streams.isEmpty)
    }
}
