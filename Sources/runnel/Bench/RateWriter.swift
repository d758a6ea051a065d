import NIOCore
import NIOHTTP1

/// The fan-out writer (`runnel bench fanout`): on every tick of a fixed rate, appends its
/// send time (decimal monotonic nanoseconds and a newline, so that a server batching
/// several appends into one SSE event still yields one `data:` line each) on an idle
/// connection of its pool. A tick that finds every connection busy is skipped and counted,
/// so a slow server shows as a lower achieved rate, not as a backlog sent in a burst.
final class RateWriter {
    struct Outcome: Sendable {
        var acknowledged = 0
        var skipped = 0
    }

    private var idle: [BenchConnection]
    private let path: String
    private let interval: UInt64
    private let stopAt: UInt64
    private var due: UInt64
    private var inFlight = 0
    private var outcome = Outcome()
    private var stopping = false
    private let recorder: BenchRecorder
    private let done: EventLoopPromise<Outcome>
    private let eventLoop: any EventLoop

    /// `connections` must all be on one event loop, the one `start` is called on.
    init(connections: [BenchConnection], path: String, rate: Int, seconds: Double, recorder: BenchRecorder) {
        precondition(!connections.isEmpty)
        self.idle = connections
        self.path = path
        self.interval = 1_000_000_000 / UInt64(rate)
        self.due = monotonicNanoseconds()
        self.stopAt = due + UInt64(seconds * 1e9)
        self.recorder = recorder
        self.eventLoop = connections[0].eventLoop
        self.done = eventLoop.makePromise()
    }

    /// Starts ticking; the future completes once the duration is over and every append
    /// has been answered.
    func start() -> EventLoopFuture<Outcome> {
        tick()
        return done.futureResult
    }

    private func tick() {
        let now = monotonicNanoseconds()
        guard now < stopAt else {
            stopping = true
            if inFlight == 0 { done.succeed(outcome) }
            return
        }
        while due <= now {
            if let connection = idle.popLast() { append(on: connection) } else { outcome.skipped += 1 }
            due += interval
        }
        eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(due - now))) { self.tick() }
    }

    private func append(on connection: BenchConnection) {
        let sent = monotonicNanoseconds()
        var body = ByteBuffer()
        body.writeString("\(sent)\n")
        let head = connection.head(.POST, path, contentType: "text/plain", bodyLength: body.readableBytes)
        inFlight += 1
        connection.send(head, body: body).assumeIsolated().whenComplete { result in
            self.inFlight -= 1
            switch result {
            case .success(let response) where response.isSuccess:
                self.outcome.acknowledged += 1
                self.recorder.succeeded(nanoseconds: monotonicNanoseconds() - sent, bytes: body.readableBytes, measured: true)
                self.idle.append(connection)
            case .success(let response):
                self.recorder.failed(String(response.status), measured: true)
                self.idle.append(connection)
            case .failure(let error):
                self.recorder.failed(BenchConnectionError.kind(of: error), measured: true)
            }
            if self.stopping && self.inFlight == 0 { self.done.succeed(self.outcome) }
        }
    }
}
