/// Slow clients held open through a fuzz run: one connection that sent half a request head,
/// one that sent a head and part of its promised body. A server must not let such a client
/// hold a connection forever (style.md: every resource a client can hold has a timeout), so
/// after `limit` both must have been closed by the server; one still open is a hang finding.
final class FuzzIdleProbe: @unchecked Sendable {
    private var connections: [(what: String, bytes: [UInt8], connection: FuzzConnection)] = []
    private let opened = ContinuousClock.now

    /// Opens the probe connections to a plain HTTP/1.1 node.
    init(port: Int) async {
        let probes = [
            ("half a request head", Array("POST /streams/f0 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n".utf8)),
            ("a head and 10 of 100 body bytes", Array("POST /streams/f0 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789".utf8)),
        ]
        for (what, bytes) in probes {
            guard let connection = try? await FuzzConnection(port: port, trustRoot: nil, alpn: []) else { continue }
            try? await connection.send(bytes)
            connections.append((what, bytes, connection))
        }
    }

    /// Waits (at most until `limit` after opening, plus a second) for the server to close
    /// each probe; a finding for each it left open.
    func check(limit: Duration, seed: UInt64) async -> [FuzzFinding] {
        var findings: [FuzzFinding] = []
        for (what, bytes, connection) in connections {
            let remaining = limit - (ContinuousClock.now - opened) + .seconds(1)
            connection.expire(after: max(remaining, .milliseconds(1)))
            while (try? await connection.read()) ?? nil != nil {}
            if connection.timedOut {
                let fuzzCase = FuzzCase(seed: seed, index: -1, transport: .http1, writes: [bytes], wait: .linger(limit), tags: ["idle-probe"])
                findings.append(FuzzFinding(.hang, "a client that sent \(what) still holds its connection after \(limit)", fuzzCase))
            }
            await connection.close()
        }
        return findings
    }
}
