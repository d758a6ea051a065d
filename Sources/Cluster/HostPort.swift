/// A listen or peer address, `HOST:PORT`, with an IPv6 host in brackets (`[::1]:4438`).
///
/// The one parser for every address flag: `--listen`, `--peer-listen`, the addresses in
/// `--peers`, and the addresses the peer transport dials. The port must be 0–65535 (0 lets
/// the system pick when listening); the host is kept as written, brackets removed.
public struct HostPort: Sendable, Hashable {
    /// The host name or IP address, without brackets.
    public var host: String
    /// The TCP port.
    public var port: Int

    /// Parses `HOST:PORT`; nil if the port is missing or out of range or the host is empty.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}
