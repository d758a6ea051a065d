import ServiceLifecycle

/// The peer transport as a service of the process's `ServiceGroup`. Its listener is bound by
/// `start` before the group runs (so the port can be announced); `run` is its lifetime, and it
/// closes every connection on graceful shutdown, after the node it carries frames for
/// (services stop in reverse order, and the node hands leadership over through it first).
extension NIOPeerTransport: Service {
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}
