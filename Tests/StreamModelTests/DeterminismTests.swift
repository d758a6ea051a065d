import SeededRandom
import Testing
@testable import StreamModel

/// Draws for the command generators (the shared `SplitMix64`, so a seed replays exactly).
extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// Random command sequences over a few buckets and streams, driven by the model's current
/// state (so forks, If-Match and producers hit real values often enough to matter).
struct CommandGenerator {
    var rng: SplitMix64
    let buckets = [defaultBucket, "b1", "b2"]
    let names = ["s0", "s1", "s2", "s3", "s4", "s5"]
    let types = ["text/plain", "application/json", "application/octet-stream", "Text/Plain; charset=utf-8"]
    let streamSeqs = ["1", "2", "10", "09", "a", "B", "b", "z"]

    mutating func randomPath() -> StreamPath {
        StreamPath(bucket: rng.pick(buckets), name: rng.pick(names))
    }

    mutating func body(json: Bool) -> Body {
        if json {
            return .json(FramedMessages((0..<(1 + rng.below(3))).map { _ in utf8("\(rng.below(1000))") }))
        }
        return .bytes((0..<(1 + rng.below(8))).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }

    mutating func expiry(now: Int64) -> Expiry {
        switch rng.below(10) {
        case 0, 1: .ttl(seconds: UInt64(1 + rng.below(30)))
        case 2: .at(milliseconds: now + Int64(rng.below(60_000)))
        default: .never
        }
    }

    mutating func ifMatch(_ meta: StreamMeta?) -> String? {
        guard rng.chance(8) else { return nil }
        switch rng.below(3) {
        case 0: return "*"
        case 1: return meta?.etag ?? "\"1:-1:0000000000000000_0000000000000000\""
        default: return "\"stale\""
        }
    }

    mutating func next(model: StreamModel, now: Int64) -> Command {
        let target = randomPath()
        let meta = model.streams[target]
        switch rng.below(100) {
        case 0..<3:
            return .createBucket(rng.pick(Array(buckets.dropFirst())))
        case 3..<5:
            return .deleteBucket(rng.pick(buckets))
        case 5..<23:
            let type = rng.chance(10) ? nil : rng.pick(types)
            let json = rng.chance(90) ? MediaType.isJSON(type ?? "") : rng.chance(50)
            return .create(CreateStream(
                path: target, contentType: type, expiry: expiry(now: now), closed: rng.chance(10),
                body: rng.chance(40) ? body(json: json) : .empty, createBucket: rng.chance(50),
                ifMatch: ifMatch(meta)))
        case 23..<33:
            let source = randomPath()
            let sourceMeta = model.streams[source]
            let tail = sourceMeta?.tail.position ?? 0
            var fork = ForkRequest(source: source, offset: nil)
            switch rng.below(4) {
            case 0: fork.offset = .zero
            case 1: fork.offset = Offset(position: UInt64(rng.below(Int(tail) + 3)))
            default: break
            }
            if rng.chance(20) {
                fork.subOffset = UInt64(1 + rng.below(3))
                fork.materializedPrefix = rng.chance(80) ? (0..<Int(fork.subOffset)).map { _ in UInt8(rng.below(256)) } : []
            }
            if rng.chance(30) { fork.sourceID = rng.chance(80) ? sourceMeta?.id : UInt64(rng.below(50)) }
            let json = sourceMeta?.isJSON ?? false
            return .create(CreateStream(
                path: target, contentType: rng.chance(70) ? nil : rng.pick(types), expiry: expiry(now: now),
                closed: rng.chance(5), body: rng.chance(30) ? body(json: rng.chance(90) ? json : !json) : .empty,
                fork: fork, createBucket: rng.chance(50)))
        case 33..<70:
            let type = meta.map { rng.chance(90) ? $0.contentType : rng.pick(types) } ?? rng.pick(types)
            let json = rng.chance(95) ? MediaType.isJSON(type) : rng.chance(50)
            var producer: ProducerTuple?
            if rng.chance(40) {
                let id = rng.pick(["p", "q"])
                let state = meta?.producers[ProducerID(id)]
                let epoch = state.map { rng.chance(80) ? $0.epoch : UInt64(rng.below(3)) } ?? UInt64(rng.below(3))
                let seq = state.map { rng.chance(70) ? $0.lastSeq + 1 : UInt64(rng.below(Int($0.lastSeq) + 3)) }
                    ?? UInt64(rng.below(2))
                producer = ProducerTuple(id: id, epoch: epoch, seq: seq)
            }
            return .append(AppendStream(
                path: target, contentType: rng.chance(3) ? nil : type, body: rng.chance(3) ? .empty : body(json: json),
                close: rng.chance(7), producer: producer, streamSeq: rng.chance(20) ? rng.pick(streamSeqs) : nil,
                ifMatch: ifMatch(meta)))
        case 70..<77:
            return .append(AppendStream(
                path: target, contentType: rng.chance(50) ? nil : rng.pick(types), body: .empty, close: true,
                producer: rng.chance(30) ? ProducerTuple(id: "p", epoch: 0, seq: UInt64(rng.below(3))) : nil))
        case 77..<88:
            return .delete(target)
        case 88..<94:
            return .touch((0..<rng.below(4)).map { _ in randomPath() })
        case 94..<96:
            return .expire
        default:
            return snapshotCommand(model: model, target: target, meta: meta)
        }
    }

    /// Stream snapshots and retention (docs/stream-snapshots.md): chunks that continue an
    /// upload in progress (or not), publishes of it at offsets inside and outside the stream,
    /// deletes and retention at its snapshots' offsets.
    mutating func snapshotCommand(model: StreamModel, target: StreamPath, meta: StreamMeta?) -> Command {
        let streamID = rng.chance(90) ? meta?.id ?? 0 : UInt64(rng.below(50))
        let pending = model.uploads.keys.sorted().filter { model.uploads[$0]?.streamID == meta?.id }
        let blobID: UInt64? = rng.chance(40) ? nil : pending.first.map { rng.chance(90) ? $0 : $0 + 1 }
        let tail = meta?.tail.position ?? 0
        let offsets = (meta?.snapshots.map(\.offset) ?? []) + [Offset(position: UInt64(rng.below(Int(tail) + 3)))]
        let offset = rng.pick(offsets)
        switch rng.below(7) {
        case 6:
            return bucketLimit(model: model)
        case 4:
            let id = "000000000000000" + String(rng.below(8))
            let scopes = [Scope(.read), Scope(.write, bucketPattern: "b*"), Scope(.admin)].filter { _ in rng.chance(60) }
            return .createKey(APIKey(id: id, name: "k", secretHash: Array(repeating: UInt8(rng.below(3)), count: 32),
                                     scopes: scopes, createdAt: 0,
                                     rates: KeyRates(requestsPerSecond: rng.chance(50) ? 10 : nil, bytesPerSecond: rng.chance(50) ? 4096 : nil)))
        case 5:
            let ids = model.apiKeys.keys.sorted()
            return .revokeKey(rng.chance(80) && !ids.isEmpty ? rng.pick(ids) : "000000000000000" + String(rng.below(8)))
        case 0:
            let index = blobID.flatMap { model.uploads[$0]?.chunkCount } ?? 0
            return .snapshotChunk(SnapshotChunk(path: target, streamID: streamID, blobID: blobID,
                                                index: rng.chance(90) ? index : index + 1,
                                                bytes: (0..<rng.below(5)).map { _ in UInt8(rng.below(256)) }))
        case 1:
            let size = blobID.flatMap { model.uploads[$0]?.size } ?? 0
            let digest = (0..<32).map { _ in UInt8(rng.below(2)) }
            let match = rng.chance(20) ? meta?.latestSnapshot?.digest ?? digest : nil
            return .publishSnapshot(PublishSnapshot(path: target, streamID: streamID, offset: offset,
                                                    contentType: "application/x-state", digest: digest,
                                                    size: rng.chance(90) ? size : size + 1, blobID: blobID, match: match))
        case 2:
            return .deleteSnapshot(target, offset)
        default:
            return .retain(target, rng.pick([.offset(offset), .offset(offset), .auto, .manual]))
        }
    }

    /// A bucket's stored-bytes limit: around what it stores now (so writes hit it), or none
    /// (often enough that limits do not starve the rest of the run).
    mutating func bucketLimit(model: StreamModel) -> Command {
        let bucket = rng.pick(buckets)
        let used = model.storedBytes(ofBucket: bucket)
        let limit: UInt64? = switch rng.below(20) {
        case 0..<10: nil
        case 10: 0
        case 11, 12: used
        case 13: UInt64(rng.below(200))
        case 14, 15: .max
        default: used + UInt64(rng.below(512))
        }
        return .setBucketLimit(bucket, maxStoredBytes: limit)
    }

    mutating func advance() -> Int64 {
        switch rng.below(20) {
        case 0..<6: 0
        case 6..<18: Int64(rng.below(1_500))
        case 18: Int64(rng.below(40_000))
        default: 1
        }
    }
}

/// Everything one command produced, in a comparable form (sets as sorted arrays).
struct Footprint: Equatable, CustomStringConvertible {
    struct Unit: Equatable {
        var streamID: UInt64
        var position: UInt64
        var bytes: [UInt8]
    }
    var result: CommandResult
    var units: [Unit]
    var changedStreams: [StreamPath]
    var removedStreamIDs: [UInt64]
    var changedBuckets: [String]
    var wake: [UInt64]
    /// Snapshot effects: chunks written (blob, index, size), blobs dropped, rows changed, trims.
    var snapshotEffects: String

    init(_ result: CommandResult, _ effects: ApplyEffects) {
        self.result = result
        units = effects.units.map { Unit(streamID: $0.streamID, position: $0.position, bytes: $0.bytes) }
        changedStreams = effects.changedStreams.sorted()
        removedStreamIDs = effects.removedStreamIDs
        changedBuckets = effects.changedBuckets.sorted()
        wake = effects.wake.sorted()
        snapshotEffects = "\(effects.blobChunks.map { [$0.blobID, UInt64($0.index), UInt64($0.bytes.count)] }) "
            + "\(effects.removedBlobs) \(effects.changedSnapshots.map { "\($0.streamID)@\($0.offset)" }.sorted()) "
            + "\(effects.changedUploads.sorted()) \(effects.trims.map { "\($0.streamID)@\($0.upTo)" }) "
            + "\(effects.changedKeys.sorted())"
    }

    var description: String {
        "\(result) units=\(units.map { "\($0.streamID)@\($0.position)+\($0.bytes.count)" }) changed=\(changedStreams) removed=\(removedStreamIDs) buckets=\(changedBuckets) snapshots=\(snapshotEffects)"
    }
}

/// Two replicas fed the same commands: `apply` runs a command on both and reports whether
/// they agreed on its result and effects.
struct ReplicaPair {
    var a = StreamModel()
    var b = StreamModel()

    struct Step {
        var before: StreamModel
        var result: CommandResult
        var effects: ApplyEffects
        /// Both replicas' footprints when they disagreed, else `nil`.
        var divergence: (Footprint, Footprint)?
    }

    mutating func apply(_ command: Command, now: Int64) -> Step {
        let before = a
        var effectsA = ApplyEffects()
        var effectsB = ApplyEffects()
        let resultA = a.apply(command, now: now, effects: &effectsA)
        let resultB = b.apply(command, now: now, effects: &effectsB)
        let footprintA = Footprint(resultA, effectsA)
        let footprintB = Footprint(resultB, effectsB)
        return Step(before: before, result: resultA, effects: effectsA,
                    divergence: footprintA == footprintB ? nil : (footprintA, footprintB))
    }
}

/// Two replicas applying the same log must agree on every result, every effect and the
/// final state; and the model's bookkeeping must hold after every command.
@Suite struct DeterminismTests {
    static let commandCount = 5_000

    @Test(arguments: [1, 2, 3, 42, 0xFEED_F00D, 20_260_603] as [UInt64])
    func replicasAgree(seed: UInt64) {
        var generator = CommandGenerator(rng: SplitMix64(seed: seed))
        var replicas = ReplicaPair()
        var now = t0
        var tally: [String: Int] = [:]
        for step in 0..<Self.commandCount {
            now += generator.advance()
            let command = generator.next(model: replicas.a, now: now)
            let applied = replicas.apply(command, now: now)
            if let (footprintA, footprintB) = applied.divergence {
                Issue.record("seed \(seed) step \(step): replicas diverged on \(command)\n A: \(footprintA)\n B: \(footprintB)")
                return
            }
            let resultA = applied.result
            let violations = Self.invariantViolations(replicas.a)
                + Self.transitionViolations(applied.before, replicas.a, command, resultA, applied.effects)
            guard violations.isEmpty else {
                Issue.record("seed \(seed) step \(step): \(command) → \(resultA) broke: \(violations)")
                return
            }
            tally[Self.kind(resultA), default: 0] += 1
            // Every so often replica B restarts from its persisted metadata, which also
            // changes its dictionaries' insertion history (and so their iteration order).
            if step % 500 == 499 {
                let b = replicas.b
                replicas.b = StreamModel(buckets: b.buckets.values.sorted { $0.name > $1.name },
                                         streams: b.streams.values.sorted { $0.id > $1.id }, nextStreamID: b.nextStreamID,
                                         uploads: b.uploads, nextBlobID: b.nextBlobID, apiKeys: Array(b.apiKeys.values))
            }
        }
        #expect(replicas.a.streams == replicas.b.streams, "seed \(seed)")
        #expect(replicas.a.buckets == replicas.b.buckets, "seed \(seed)")
        #expect(replicas.a.nextStreamID == replicas.b.nextStreamID, "seed \(seed)")
        #expect(replicas.a.uploads == replicas.b.uploads && replicas.a.nextBlobID == replicas.b.nextBlobID, "seed \(seed)")
        #expect(replicas.a.apiKeys == replicas.b.apiKeys, "seed \(seed)")
        for bucket in generator.buckets {
            #expect(replicas.a.storedBytes(ofBucket: bucket) == replicas.b.storedBytes(ofBucket: bucket), "seed \(seed)")
        }
        // The run exercised the model, not just its rejections.
        for kind in ["created", "existing", "appended", "duplicate", "deleted", "expired", "snapshot", "retained",
                     "bucketLimitSet", "rejected.bucket_quota_exceeded"] {
            #expect(tally[kind, default: 0] > 0, "seed \(seed): no \(kind) results in \(tally)")
        }
        #expect(tally.keys.filter { $0.hasPrefix("rejected") }.count >= 10, "seed \(seed): \(tally)")
    }

    /// The whole log applied in one go (one `ApplyEffects` for everything) equals the
    /// per-command effects concatenated.
    @Test(arguments: [7, 8] as [UInt64])
    func batchedEffectsEqualConcatenated(seed: UInt64) {
        var generator = CommandGenerator(rng: SplitMix64(seed: seed))
        var a = StreamModel()
        var b = StreamModel()
        var now = t0
        var batched = ApplyEffects()
        var units: [Footprint.Unit] = []
        var changed: Set<StreamPath> = []
        var removed: [UInt64] = []
        for _ in 0..<2_000 {
            now += generator.advance()
            let command = generator.next(model: a, now: now)
            var single = ApplyEffects()
            let resultA = a.apply(command, now: now, effects: &single)
            let resultB = b.apply(command, now: now, effects: &batched)
            #expect(resultA == resultB, "seed \(seed)")
            units += single.units.map { Footprint.Unit(streamID: $0.streamID, position: $0.position, bytes: $0.bytes) }
            changed.formUnion(single.changedStreams)
            removed += single.removedStreamIDs
        }
        #expect(batched.units.map { Footprint.Unit(streamID: $0.streamID, position: $0.position, bytes: $0.bytes) } == units)
        #expect(batched.changedStreams.sorted() == changed.sorted())
        #expect(batched.removedStreamIDs == removed)
    }

    static func kind(_ result: CommandResult) -> String {
        switch result {
        case .created(let outcome): outcome.created ? "created" : "existing"
        case .appended(let outcome): outcome.duplicate ? "duplicate" : "appended"
        case .deleted: "deleted"
        case .expired(let count): count > 0 ? "expired" : "expired0"
        case .rejected(let error): "rejected.\(error.code)"
        case .snapshotPublished(_, let duplicate): duplicate ? "snapshot-again" : "snapshot"
        case .retained: "retained"
        default: "\(result)"
        }
    }

    /// Bookkeeping that must hold in every state.
    static func invariantViolations(_ model: StreamModel) -> [String] {
        var problems: [String] = []
        var forksOf: [UInt64: UInt64] = [:]
        var perBucket: [String: UInt64] = [:]
        for meta in model.streams.values {
            if let origin = meta.fork { forksOf[origin.sourceID, default: 0] += 1 }
            perBucket[meta.path.bucket, default: 0] += 1
        }
        for (path, meta) in model.streams {
            if meta.path != path { problems.append("\(path) holds a meta for \(meta.path)") }
            if meta.tail < meta.base { problems.append("\(path): tail \(meta.tail) < base \(meta.base)") }
            if meta.forkCount != forksOf[meta.id, default: 0] {
                problems.append("\(path): forkCount \(meta.forkCount) but \(forksOf[meta.id, default: 0]) forks")
            }
            if meta.softDeleted && meta.forkCount == 0 { problems.append("\(path): soft-deleted without forks") }
            if let origin = meta.fork, model.stream(id: origin.sourceID) == nil {
                problems.append("\(path): fork source \(origin.sourceID) is gone")
            }
            if model.stream(id: meta.id)?.path != path { problems.append("\(path): id \(meta.id) not indexed") }
            if meta.id >= model.nextStreamID { problems.append("\(path): id \(meta.id) >= nextStreamID") }
            if model.buckets[path.bucket] == nil { problems.append("\(path): bucket missing") }
            if meta.closedBy != nil && !meta.closed { problems.append("\(path): closedBy on an open stream") }
            // Snapshots and retention (docs/stream-snapshots.md).
            let offsets = meta.snapshots.map(\.offset)
            if offsets != offsets.sorted() || Set(offsets).count != offsets.count {
                problems.append("\(path): snapshots out of order or repeated")
            }
            if meta.snapshots.count > SnapshotLimits.maxPerStream { problems.append("\(path): too many snapshots") }
            if let last = offsets.last, last > meta.tail { problems.append("\(path): a snapshot past the tail") }
            if meta.retained > meta.tail { problems.append("\(path): retained past the tail") }
            if meta.fork == nil && meta.retained > (offsets.last ?? .zero) {
                problems.append("\(path): retained \(meta.retained) past the latest snapshot")
            }
            if meta.trimmed > max(meta.retained, meta.base) { problems.append("\(path): trimmed past retained") }
            for snapshot in meta.snapshots where snapshot.size > 0 && snapshot.blobID == 0 {
                problems.append("\(path): snapshot at \(snapshot.offset) without a blob")
            }
        }
        var blobs: Set<UInt64> = []
        for meta in model.streams.values {
            for snapshot in meta.snapshots where snapshot.blobID != 0 {
                if !blobs.insert(snapshot.blobID).inserted { problems.append("blob \(snapshot.blobID) owned twice") }
            }
        }
        for (id, key) in model.apiKeys where id != key.id || !APIKey.isValidID(id) || key.scopes.isEmpty {
            problems.append("API key \(id) is malformed")
        }
        for (blobID, upload) in model.uploads {
            if model.stream(id: upload.streamID) == nil { problems.append("upload \(blobID) of a removed stream") }
            if !blobs.insert(blobID).inserted { problems.append("blob \(blobID) both uploading and published") }
            if blobID >= model.nextBlobID { problems.append("upload \(blobID) >= nextBlobID") }
        }
        for (name, bucket) in model.buckets where bucket.streamCount != perBucket[name, default: 0] {
            problems.append("bucket \(name): streamCount \(bucket.streamCount) but \(perBucket[name, default: 0]) streams")
        }
        if model.buckets[defaultBucket] == nil { problems.append("_default is gone") }
        // The incremental stored-bytes counter equals a recomputation from the rows.
        var stored: [String: UInt128] = [:]
        for meta in model.streams.values {
            stored[meta.path.bucket, default: 0] += UInt128(meta.bytesStored) + UInt128(meta.snapshotBytes)
        }
        for upload in model.uploads.values {
            if let bucket = model.stream(id: upload.streamID)?.path.bucket { stored[bucket, default: 0] += UInt128(upload.size) }
        }
        for bucket in Set(model.buckets.keys).union(stored.keys) {
            let expected = UInt64(clamping: stored[bucket, default: 0])
            if model.storedBytes(ofBucket: bucket) != expected {
                problems.append("bucket \(bucket): storedBytes \(model.storedBytes(ofBucket: bucket)) but rows hold \(expected)")
            }
        }
        return problems
    }

    /// What one command may do to the state it was applied to.
    static func transitionViolations(_ before: StreamModel, _ after: StreamModel, _ command: Command,
                                     _ result: CommandResult, _ effects: ApplyEffects) -> [String] {
        var problems: [String] = []
        if case .rejected = result, !effects.units.isEmpty {
            problems.append("a rejected command wrote units")
        }
        if case .rejected = result, after.nextStreamID != before.nextStreamID {
            problems.append("a rejected command consumed a stream id")
        }
        for unit in effects.units {
            guard let meta = after.stream(id: unit.streamID) ?? before.stream(id: unit.streamID) else {
                problems.append("unit for unknown stream \(unit.streamID)")
                continue
            }
            if unit.position < meta.base.position || unit.position + UInt64(unit.bytes.count) > meta.tail.position {
                problems.append("unit \(unit.streamID)@\(unit.position) outside \(meta.base)..<\(meta.tail)")
            }
            if unit.bytes.isEmpty { problems.append("empty unit") }
        }
        for (path, meta) in after.streams {
            guard let old = before.streams[path], old.id == meta.id else { continue }
            // Offsets only move forward, closure never reopens, and a stream's identity is fixed.
            if meta.tail < old.tail { problems.append("\(path): tail went back") }
            if old.closed && !meta.closed { problems.append("\(path): reopened") }
            if old.softDeleted && !meta.softDeleted { problems.append("\(path): undeleted") }
            if meta.contentType != old.contentType || meta.base != old.base || meta.fork != old.fork {
                problems.append("\(path): identity changed")
            }
        }
        switch (command, result) {
        case (.append, .appended(let outcome)):
            if outcome.wroteData != !effects.units.isEmpty { problems.append("wroteData disagrees with units") }
            if case .append(let append) = command, after.streams[append.path]?.tail != outcome.nextOffset {
                problems.append("nextOffset is not the tail")
            }
        case (.create(let create), .created(let outcome)):
            if after.streams[create.path]?.tail != outcome.nextOffset { problems.append("nextOffset is not the tail") }
        default:
            break
        }
        // No command takes a bucket past its limit (lowering the limit below usage is allowed,
        // so only growth is checked), and a refusal for the limit changes no stream.
        for (name, bucket) in after.buckets {
            guard let limit = bucket.maxStoredBytes else { continue }
            let used = after.storedBytes(ofBucket: name)
            if used > before.storedBytes(ofBucket: name) && used > limit {
                problems.append("bucket \(name) grew to \(used) past its limit \(limit)")
            }
        }
        // (A create may first expire the stream it replaces, so only appends and chunks, which
        // refuse an expired target, are held to it.)
        if case .rejected(let error) = result, error.code == .bucketQuotaExceeded, after.streams != before.streams {
            switch command {
            case .append, .snapshotChunk: problems.append("a refusal for the bucket limit changed streams")
            default: break
            }
        }
        for id in effects.removedStreamIDs where after.stream(id: id) != nil {
            problems.append("removed id \(id) still present")
        }
        return problems
    }
}
