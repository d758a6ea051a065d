import Hummingbird
import Logging
import Storage

/// The HTTP service of a node: Hummingbird serving the Runnel responder over `store`.
public enum RunnelServer {
    /// Builds the Hummingbird application; run it with `runService()` (SIGTERM/SIGINT stop it).
    public static func makeApplication(
        store: StreamStore, configuration: ServerConfiguration, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let responder = RunnelResponder(store: store, configuration: configuration, logger: logger, waiters: LiveWaiters(store: store))
        return Application(
            responder: responder,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "runnel"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}
