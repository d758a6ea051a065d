import Testing
@testable import StreamModel

// Shared vocabulary of the StreamModel tests: short builders for commands, a harness that
// applies them at a controllable leader time, and the expected outcome of a table row.

/// A leader timestamp far from zero, so arithmetic near it never wraps.
let t0: Int64 = 1_700_000_000_000
let defaultBucket = Identifiers.defaultBucket

func path(_ name: String, bucket: String = defaultBucket) -> StreamPath {
    StreamPath(bucket: bucket, name: name)
}

func offset(_ position: UInt64) -> Offset { Offset(position: position) }

func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

extension Body {
    /// A byte body.
    static func text(_ text: String) -> Body { .bytes(Array(text.utf8)) }
    /// Flattened JSON messages, each given as its JSON text.
    static func messages(_ messages: String...) -> Body { .json(FramedMessages(messages.map { Array($0.utf8) })) }
}

/// The stored length of JSON messages: each is framed behind 4 length bytes.
func framedLength(_ messages: String...) -> UInt64 {
    messages.reduce(0) { $0 + 4 + UInt64($1.utf8.count) }
}

func producer(_ id: String, _ epoch: UInt64, _ seq: UInt64) -> ProducerTuple {
    ProducerTuple(id: id, epoch: epoch, seq: seq)
}

func create(
    _ name: String, bucket: String = defaultBucket, type: String? = "text/plain", expiry: Expiry = .never,
    closed: Bool = false, body: Body = .empty, createBucket: Bool = false, ifMatch: String? = nil
) -> Command {
    .create(CreateStream(path: path(name, bucket: bucket), contentType: type, expiry: expiry, closed: closed,
                         body: body, createBucket: createBucket, ifMatch: ifMatch))
}

func fork(
    _ name: String, from source: String, at forkOffset: Offset? = nil, sub: UInt64 = 0, prefix: [UInt8] = [],
    sourceID: UInt64? = nil, type: String? = nil, expiry: Expiry = .never, closed: Bool = false, body: Body = .empty
) -> Command {
    .create(CreateStream(
        path: path(name), contentType: type, expiry: expiry, closed: closed, body: body,
        fork: ForkRequest(source: path(source), offset: forkOffset, subOffset: sub, materializedPrefix: prefix,
                          sourceID: sourceID)))
}

func append(
    _ name: String, _ body: Body, bucket: String = defaultBucket, type: String? = "text/plain", close: Bool = false,
    producer: ProducerTuple? = nil, seq: String? = nil, ifMatch: String? = nil
) -> Command {
    .append(AppendStream(path: path(name, bucket: bucket), contentType: type, body: body, close: close,
                         producer: producer, streamSeq: seq, ifMatch: ifMatch))
}

func append(_ name: String, _ text: String, type: String? = "text/plain", close: Bool = false,
            producer: ProducerTuple? = nil, seq: String? = nil, ifMatch: String? = nil) -> Command {
    append(name, .text(text), type: type, close: close, producer: producer, seq: seq, ifMatch: ifMatch)
}

/// A close-only `POST` (empty body, `Stream-Closed: true`).
func closeOnly(_ name: String, type: String? = nil, producer: ProducerTuple? = nil, seq: String? = nil,
               ifMatch: String? = nil) -> Command {
    .append(AppendStream(path: path(name), contentType: type, body: .empty, close: true, producer: producer,
                         streamSeq: seq, ifMatch: ifMatch))
}

func delete(_ name: String, bucket: String = defaultBucket) -> Command { .delete(path(name, bucket: bucket)) }

/// The ETag the model mints for stream incarnation `id` at tail `position`.
func etag(id: UInt64, _ position: UInt64, closed: Bool = false) -> String {
    "\"\(id):-1:\(offset(position))\(closed ? ":c" : "")\""
}

/// One step of a scenario.
enum Step: Sendable {
    /// Applies a command that must not be rejected.
    case run(Command)
    /// Applies a command that must be rejected with this code.
    case reject(Command, ModelError.Code)
    /// Moves the leader clock forward by this many milliseconds.
    case advance(Int64)
}

/// Applies commands to a fresh model at a controllable time, collecting effects.
struct Harness {
    var model = StreamModel()
    var now = t0
    var effects = ApplyEffects()

    @discardableResult
    mutating func run(_ command: Command) -> CommandResult {
        model.apply(command, now: now, effects: &effects)
    }

    /// Applies `command` with fresh effects and returns both.
    mutating func runIsolated(_ command: Command) -> (CommandResult, ApplyEffects) {
        var effects = ApplyEffects()
        let result = model.apply(command, now: now, effects: &effects)
        return (result, effects)
    }

    mutating func play(_ steps: [Step], sourceLocation: SourceLocation = #_sourceLocation) {
        for (index, step) in steps.enumerated() {
            switch step {
            case .run(let command):
                let result = run(command)
                if case .rejected(let error) = result {
                    Issue.record("setup step \(index) was rejected: \(error)", sourceLocation: sourceLocation)
                }
            case .reject(let command, let code):
                let result = run(command)
                guard case .rejected(let error) = result, error.code == code else {
                    Issue.record("setup step \(index): expected \(code), got \(result)", sourceLocation: sourceLocation)
                    continue
                }
            case .advance(let milliseconds):
                now += milliseconds
            }
        }
    }

    func meta(_ name: String, bucket: String = defaultBucket) -> StreamMeta? {
        model.streams[path(name, bucket: bucket)]
    }
}

/// Producer headers echoed on a successful append.
struct Echo: Hashable, Sendable {
    var epoch: UInt64
    var seq: UInt64
    init(_ epoch: UInt64, _ seq: UInt64) {
        self.epoch = epoch
        self.seq = seq
    }
}

/// The expected result of a scenario's final command. `nil` fields are not checked.
enum Expected: Sendable, CustomStringConvertible {
    /// 201.
    case created(next: UInt64 = 0, closed: Bool = false, type: String? = nil)
    /// 200 on an idempotent create.
    case existing(next: UInt64? = nil, closed: Bool = false)
    /// 200/204: an append or close that was not rejected. `producer` must equal the echo.
    case appended(next: UInt64? = nil, closed: Bool = false, duplicate: Bool = false, wrote: Bool? = nil,
                  producer: Echo? = nil)
    case rejected(ModelError.Code, next: UInt64? = nil, closed: Bool? = nil, currentEpoch: UInt64? = nil,
                  expectedSeq: UInt64? = nil, receivedSeq: UInt64? = nil, etag: String? = nil)
    case deleted
    case bucketCreated(Bool)
    case bucketDeleted
    case expired(Int)
    case touched

    var description: String {
        switch self {
        case .created(let next, let closed, let type): "created(next: \(next), closed: \(closed), type: \(type ?? "-"))"
        case .existing(let next, let closed): "existing(next: \(next.map(String.init) ?? "-"), closed: \(closed))"
        case .appended(let next, let closed, let duplicate, let wrote, let producer):
            "appended(next: \(next.map(String.init) ?? "-"), closed: \(closed), duplicate: \(duplicate), wrote: \(wrote.map(String.init) ?? "-"), producer: \(producer.map { "\($0.epoch)/\($0.seq)" } ?? "nil"))"
        case .rejected(let code, _, _, _, _, _, _): "rejected(\(code))"
        case .deleted: "deleted"
        case .bucketCreated(let created): "bucketCreated(\(created))"
        case .bucketDeleted: "bucketDeleted"
        case .expired(let count): "expired(\(count))"
        case .touched: "touched"
        }
    }

    /// Whether `result` is what this expectation describes.
    func matches(_ result: CommandResult) -> Bool {
        switch (self, result) {
        case (.created(let next, let closed, let type), .created(let outcome)):
            return outcome.created && outcome.nextOffset == offset(next) && outcome.closed == closed
                && (type == nil || outcome.contentType == type)
        case (.existing(let next, let closed), .created(let outcome)):
            return !outcome.created && (next == nil || outcome.nextOffset == offset(next!)) && outcome.closed == closed
        case (.appended(let next, let closed, let duplicate, let wrote, let producer), .appended(let outcome)):
            let echo = outcome.producerEpoch.flatMap { epoch in outcome.producerSeq.map { Echo(epoch, $0) } }
            return (next == nil || outcome.nextOffset == offset(next!)) && outcome.closed == closed
                && outcome.duplicate == duplicate && (wrote == nil || outcome.wroteData == wrote)
                && echo == producer
        case (.rejected(let code, let next, let closed, let epoch, let expected, let received, let etag),
              .rejected(let error)):
            return error.code == code && (next == nil || error.nextOffset == offset(next!))
                && (closed == nil || error.closed == closed) && (epoch == nil || error.currentEpoch == epoch)
                && (expected == nil || error.expectedSeq == expected)
                && (received == nil || error.receivedSeq == received) && (etag == nil || error.etag == etag)
        case (.deleted, .deleted), (.bucketDeleted, .bucketDeleted), (.touched, .touched):
            return true
        case (.bucketCreated(let expected), .bucketCreated(let created)):
            return expected == created
        case (.expired(let expected), .expired(let count)):
            return expected == count
        default:
            return false
        }
    }
}

/// A table row: setup steps, then one command whose result is checked.
struct Scenario: Sendable, CustomTestStringConvertible {
    var name: String
    var steps: [Step]
    var then: Command
    var expect: Expected

    init(_ name: String, _ steps: [Step] = [], then: Command, _ expect: Expected) {
        self.name = name
        self.steps = steps
        self.then = then
        self.expect = expect
    }

    var testDescription: String { name }

    /// Plays the scenario on a fresh model and checks the final result.
    @discardableResult
    func check(sourceLocation: SourceLocation = #_sourceLocation) -> Harness {
        var harness = Harness()
        harness.play(steps, sourceLocation: sourceLocation)
        let result = harness.run(then)
        #expect(expect.matches(result), "\(name): expected \(expect), got \(result)", sourceLocation: sourceLocation)
        return harness
    }
}
