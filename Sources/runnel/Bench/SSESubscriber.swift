import NIOCore
import NIOHTTP1
import Synchronization

/// Counters every subscriber of a fan-out run shares.
final class FanoutCounters: Sendable {
    /// Subscribers that have had their first control event.
    let ready = Atomic<Int>(0)
    let reconnects = Atomic<Int>(0)
}

/// One `live=sse` reader (protocol §8.4) on its event loop: records the publish-to-receive
/// latency of every timestamp it gets, and when the server ends the response (it does about
/// every 60 s) or the connection drops, reads on from the last control event's
/// `streamNextOffset`.
final class SSESubscriber {
    private var connection: BenchConnection
    private let path: String
    private let recorder: BenchRecorder
    private let counters: FanoutCounters
    private let reopen: () -> EventLoopFuture<BenchConnection>
    private var parser = SSEParser()
    private var offset = "now"
    private var ready = false
    private var stopped = false

    init(
        connection: BenchConnection, path: String, recorder: BenchRecorder, counters: FanoutCounters,
        reopen: @escaping () -> EventLoopFuture<BenchConnection>
    ) {
        self.connection = connection
        self.path = path
        self.recorder = recorder
        self.counters = counters
        self.reopen = reopen
    }

    func start() { subscribe() }

    func stop() {
        stopped = true
        connection.close()
    }

    private func subscribe() {
        parser = SSEParser()
        let head = connection.head(.GET, "\(path)?offset=\(offset)&live=sse")
        connection.send(head, timeout: nil, onBody: { buffer in self.received(buffer) })
            .assumeIsolated().whenComplete { result in
                guard !self.stopped else { return }
                switch result {
                case .success(let response) where response.status == 200:
                    let reusable = self.connection.channel.isActive && response.headers.first(name: "Connection") != "close"
                    self.resume(reconnect: !reusable)
                case .success(let response):
                    self.recorder.failed(String(response.status), measured: true)
                    self.resume(reconnect: true, after: .milliseconds(100))
                case .failure:
                    self.recorder.failed("io", measured: true)
                    self.resume(reconnect: true, after: .milliseconds(100))
                }
            }
    }

    private func resume(reconnect: Bool, after delay: TimeAmount = .zero) {
        counters.reconnects.add(1, ordering: .relaxed)
        guard reconnect else { return subscribe() }
        connection.close()
        connection.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            guard !self.stopped else { return }
            self.reopen().assumeIsolated().whenComplete { result in
                switch result {
                case .success(let fresh):
                    self.connection = fresh
                    if self.stopped { fresh.close() } else { self.subscribe() }
                case .failure:
                    self.resume(reconnect: true, after: .milliseconds(100))
                }
            }
        }
    }

    private func received(_ buffer: ByteBuffer) {
        let now = monotonicNanoseconds()
        parser.feed(buffer) { kind, value in
            switch kind {
            case .data:
                if let sent = SSEParser.decimal(value), sent <= now {
                    recorder.succeeded(nanoseconds: now - sent, bytes: value.count, measured: true)
                }
            case .control:
                if let next = SSEParser.stringField("streamNextOffset", in: value) { offset = next }
                if !ready {
                    ready = true
                    counters.ready.add(1, ordering: .relaxed)
                }
                if SSEParser.flag("streamClosed", in: value) { stop() }
            case .none, .other:
                break
            }
        }
    }
}
