import Replication
import Storage
import ServiceLifecycle
import Synchronization

/// Live readers (long-poll and SSE) waiting for a stream to change. They are woken by the
/// apply loop through `Node.onChange`, never by polling; a waiting reader is a
/// suspended task holding a continuation, not a thread.
final class LiveWaiters: Sendable, Service {
    /// One suspended reader. Fired once: by a change (true), or by its deadline or
    /// cancellation (false), whichever comes first.
    final class Waiter: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Bool, Never>?
            var outcome: Bool?
        }
        private let state = Mutex(State())
        let deadline: ContinuousClock.Instant

        init(deadline: ContinuousClock.Instant) {
            self.deadline = deadline
        }

        func fire(_ changed: Bool) {
            let continuation = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard state.outcome == nil else { return nil }
                state.outcome = changed
                defer { state.continuation = nil }
                return state.continuation
            }
            continuation?.resume(returning: changed)
        }

        func wait() async -> Bool {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Bool? in
                    if let outcome = state.outcome { return outcome }
                    state.continuation = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    private struct Registry {
        var byStream: [UInt64: [ObjectIdentifier: Waiter]] = [:]
        var count = 0
    }

    private let registry = Mutex(Registry())

    /// How often deadlines are checked: a reader's wait ends at most this long after its
    /// deadline (long-poll timeouts and SSE sessions last seconds).
    static let deadlineResolution: Duration = .milliseconds(25)

    /// Reads of a stream's tail shared by the readers this wakes together.
    let tailReads = SharedTailReads()

    /// SSE readers at their stream's tail, served without their tasks.
    let fanout: SSEFanout

    init(store: Node, readChunkBytes: Int, metrics: RunnelMetrics) {
        fanout = SSEFanout(store: store, readChunkBytes: readChunkBytes, metrics: metrics)
        store.onChange { [weak self] ids in
            self?.fanout.changed(ids)
            self?.wake(ids)
        }
    }

    /// One sweeper ends every expired wait, instead of a timer task per waiting reader. It
    /// runs as a service of the HTTP application, until graceful shutdown.
    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.deadlineResolution)
                let now = ContinuousClock.now
                self.expire(now: now)
                self.fanout.expire(now: now)
            }
        }
    }

    /// Whether the server is shutting down (`endAll` ran): live reads end instead of waiting on.
    var isClosing: Bool { fanout.isClosing }

    /// Graceful shutdown has begun: ends every live read now and every one begun later at
    /// once, as if its timeout had passed (a long-poll answers 204, an SSE session ends and
    /// its client resumes elsewhere). The HTTP server drains only once its requests end, and
    /// a live read would have held it for its whole timeout: a SIGTERM with one SSE reader
    /// open took 59 s, past Kubernetes' default grace of 30 s.
    func endAll() {
        fanout.endAll()  // first: it sets the flag `isClosing` reads
        let waiting = registry.withLock { $0.byStream.values.flatMap(\.values) }
        for waiter in waiting { waiter.fire(false) }
    }

    /// Readers currently waiting, followers of the fan-out included.
    var count: Int { registry.withLock { $0.count } + fanout.count }

    /// Suspends until stream `id` changes or `deadline` passes (or the task is cancelled).
    /// `stillCurrent` runs after the waiter is registered, so a change that landed just before
    /// is not missed: when it returns false the wait ends at once. Returns whether a change
    /// (rather than the deadline) ended the wait.
    func wait(for id: UInt64, until deadline: ContinuousClock.Instant, stillCurrent: () -> Bool) async -> Bool {
        let waiter = Waiter(deadline: deadline)
        let key = ObjectIdentifier(waiter)
        registry.withLock {
            $0.byStream[id, default: [:]][key] = waiter
            $0.count += 1
        }
        defer { unregister(id, key) }
        guard stillCurrent() else { return true }
        // After registering: `endAll` either saw this waiter or set the flag first.
        guard ContinuousClock.now < deadline, !isClosing else { return false }
        return await withTaskCancellationHandler {
            await waiter.wait()
        } onCancel: {
            waiter.fire(false)
        }
    }

    private func unregister(_ id: UInt64, _ key: ObjectIdentifier) {
        registry.withLock { registry in
            if registry.byStream[id]?.removeValue(forKey: key) != nil {
                registry.count -= 1
                if registry.byStream[id]?.isEmpty == true { registry.byStream[id] = nil }
            }
        }
    }

    private func expire(now: ContinuousClock.Instant) {
        let expired = registry.withLock { registry -> [Waiter] in
            registry.byStream.values.flatMap { $0.values.filter { $0.deadline <= now } }
        }
        for waiter in expired { waiter.fire(false) }
    }

    private func wake(_ ids: Set<UInt64>) {
        let woken = registry.withLock { registry -> [Waiter] in
            ids.flatMap { registry.byStream[$0].map { Array($0.values) } ?? [] }
        }
        for waiter in woken { waiter.fire(true) }
    }
}

/// Ends the live reads once graceful shutdown begins. It runs in the process's service group
/// after the HTTP application, so it is told first (a group stops its services in reverse):
/// the application's own services hear of shutdown only after its server has drained.
public struct LiveReadsShutdown: Service {
    let waiters: LiveWaiters

    public func run() async throws {
        try? await gracefulShutdown()
        waiters.endAll()
    }
}
