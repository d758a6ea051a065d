import ServiceLifecycle

/// The node as a service of the process's one `ServiceGroup` (api.md §4 "SIGTERM drains").
/// It is opened, and its Raft and apply threads started, when it is created; `run` is its
/// lifetime: on graceful shutdown, which the group triggers after the HTTP server has drained
/// (services stop in reverse order), it hands leadership over if it leads, then closes.
extension Node: Service {
    public func run() async throws {
        // Returns on graceful shutdown; throws if the task is cancelled instead: close anyway.
        try? await gracefulShutdown()
        await handOffLeadership(timeout: handOffTimeout)
        shutdown()
    }
}
