import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOSSL
import Replication
import Storage

/// The HTTP service of a node: Hummingbird serving the Runnel responder over `store`.
public enum RunnelServer {
    /// A configuration problem found before serving (for example an unreadable certificate).
    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Builds the Hummingbird application, a `Service`: run it in the process's
    /// `ServiceGroup`. The live readers' deadline sweeper runs as a service of its own inside
    /// it and stops after the server has drained. The second service ends live reads when
    /// graceful shutdown begins: run it after the application in the same group (so it hears
    /// first), with `successTerminationBehavior: .ignore`.
    public static func makeApplication(
        store: Node, configuration: ServerConfiguration, metrics: RunnelMetrics, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> (some ApplicationProtocol, LiveReadsShutdown) {
        let waiters = LiveWaiters(store: store, readChunkBytes: configuration.readChunkBytes, metrics: metrics)
        let responder = RunnelResponder(store: store, configuration: configuration, logger: logger, waiters: waiters, metrics: metrics,
                                        quotas: RequestQuotas(configuration.access))
        let application = Application(
            responder: responder,
            server: try serverBuilder(configuration, fastPath: configuration.fastAppends ? responder : nil),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "runnel",
                                 backlog: Self.listenBacklog),
            services: [waiters],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
        return (application, LiveReadsShutdown(waiters: waiters))
    }

    /// Connections the kernel completes before the server accepts them (capped by
    /// `net.core.somaxconn`). Hummingbird's 256 is too few for a herd of live readers
    /// reconnecting at once: SYNs beyond it are dropped and retried after 1, 3, 7 s, and a
    /// `make test` run saw a connect of 1,000 SSE readers time out after 10 s so.
    static let listenBacklog = 4096

    /// Checks what can be checked before serving (certificate and key files), so a bad
    /// configuration stops startup with a clear message before any data is opened.
    public static func validate(_ configuration: ServerConfiguration) throws {
        _ = try serverBuilder(configuration)
    }

    /// Plain HTTP/1.1, or HTTPS with HTTP/2 and HTTP/1.1 by ALPN when a certificate is set;
    /// either way wrapped in the connection limits and timeouts of `configuration`.
    static func serverBuilder(_ configuration: ServerConfiguration, fastPath responder: RunnelResponder? = nil) throws -> HTTPServerBuilder {
        let headerReadTimeout = configuration.headerReadTimeout
        let streams = HTTP1Channel.Configuration(
            additionalChannelHandlers: [HTTP1GuardInstaller(headerReadTimeout: headerReadTimeout), PeerCloseWatcher()]
                + (responder.map { [AppendFastPathInstaller(responder: $0)] } ?? []),
            idleTimeout: .nanoseconds(configuration.idleTimeout.nanoseconds))
        let limits = ConnectionLimits(maximum: configuration.maxConnections)
        switch (configuration.tlsCertificatePath, configuration.tlsKeyPath) {
        case (nil, nil):
            return HTTPServerBuilder { responder in
                GuardedChildChannel(
                    inner: HTTP1Channel(responder: responder, configuration: streams), limits: limits, tlsHandshakeTimeout: nil)
            }
        case (let certPath?, let keyPath?):
            let chain: [NIOSSLCertificate]
            do { chain = try NIOSSLCertificate.fromPEMFile(certPath) } catch {
                throw StartupError(description: "cannot load TLS certificate \(certPath): \(error)")
            }
            guard !chain.isEmpty else { throw StartupError(description: "no certificate found in \(certPath)") }
            let key: NIOSSLPrivateKey
            do { key = try NIOSSLPrivateKey(file: keyPath, format: .pem) } catch {
                throw StartupError(description: "cannot load TLS private key \(keyPath): \(error)")
            }
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            let http2 = HTTP2UpgradeChannel.Configuration(idleTimeout: configuration.http2IdleTimeout, streamConfiguration: streams)
            // Validate the TLS configuration now, so a bad one stops startup.
            do { _ = try HTTP2UpgradeChannel(tlsConfiguration: tls, configuration: http2, responder: { _, _, _ in }) } catch {
                throw StartupError(description: "invalid TLS configuration: \(error)")
            }
            let handshakeTimeout = configuration.tlsHandshakeTimeout
            return HTTPServerBuilder { responder in
                GuardedChildChannel(
                    inner: try HTTP2UpgradeChannel(tlsConfiguration: tls, configuration: http2, responder: responder),
                    limits: limits, tlsHandshakeTimeout: handshakeTimeout)
            }
        default:
            throw StartupError(description: "--tls-cert and --tls-key must be given together")
        }
    }
}
