import Foundation

/// The node under fuzzing: a real `runnel serve` process with the fuzz settings (a short
/// long-poll timeout so live reads answer within the deadline, a small body limit so bodies
/// past it are cheap, and short header and idle timeouts, so a request the server must wait
/// on, such as a declared chunk far past the body limit, is closed within the deadline),
/// plain or TLS, restartable on its data directory after a crash.
final class FuzzNode: @unchecked Sendable {
    let dataDirectory: String
    let arguments: [String]
    /// The PEM file clients trust, for a TLS node.
    let trustRoot: String?
    private(set) var process: RunnelProcess

    init(name: String, maxBodyBytes: Int, tls: (cert: String, key: String)?) {
        dataDirectory = RunnelProcess.temporaryDirectory(name)
        arguments = ["--long-poll-timeout", "0.2", "--max-body-bytes", String(maxBodyBytes),
                     "--header-read-timeout", "3", "--idle-timeout", "3", "--http2-idle-timeout", "3",
                     "--tls-handshake-timeout", "3"]
            + (tls.map { ["--tls-cert", $0.cert, "--tls-key", $0.key] } ?? [])
        trustRoot = tls?.cert
        process = RunnelProcess(dataDirectory: dataDirectory, arguments: arguments)
    }

    var port: Int { process.port }

    /// Starts the process and waits until it is ready (a leader, so writes can commit).
    func start() async throws {
        try await process.start()
        // Generous: at the start of `make test` two cores start many processes at once.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let client = try? await client() {
                let ready = try? await client.request("GET", "/readyz", timeout: .seconds(5))
                await client.close()
                if ready?.status == 200 { return }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HTTPTestClient.ClientError(description: "fuzz node never became ready: \(process.log.suffix(2000))")
    }

    /// A fresh HTTP/1.1 client (over TLS for a TLS node).
    func client() async throws -> HTTPTestClient {
        try await HTTPTestClient(port: port, trustRoot: trustRoot)
    }

    /// The status of `GET /healthz`, nil if it got no answer within `timeout`.
    func health(timeout: Duration = .seconds(10)) async -> Int? {
        guard let client = try? await client() else { return nil }
        let status = try? await client.request("GET", "/healthz", timeout: timeout).status
        await client.close()
        return status
    }

    /// Whether the process has exited, waiting up to `timeout` for it to do so.
    func exited(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Why the process exited, from its log: the runtime's failure message and the first
    /// frame of the crashed thread in Runnel's own sources, e.g. "Swift runtime failure:
    /// arithmetic overflow at static Cursor.next(now:clientCursor:) (Sources/Server/Cursor.swift:12:34)".
    var exitReason: String {
        let lines = process.log.split(separator: "\n").map(String.init)
        let failure = lines.last { ($0.hasPrefix("***") && $0.contains("Swift runtime failure")) || $0.contains("Fatal error:") }?
            .replacingOccurrences(of: "*", with: "").trimmingCharacters(in: .whitespaces)
        var frame: String?
        if let crashed = lines.lastIndex(where: { $0.contains(" crashed:") }) {
            frame = lines[crashed...].first { $0.contains("/Sources/") && !$0.contains("/.build/") }.map { line in
                let function = line.range(of: #"0x[0-9a-f]+ "#, options: .regularExpression).map { line[$0.upperBound...] }
                    .map { String($0.prefix { $0 != "+" }).trimmingCharacters(in: .whitespaces) } ?? ""
                let file = line.range(of: "Sources/").map { String(line[$0.lowerBound...]) } ?? ""
                return "\(function) (\(file))"
            }
        }
        switch (failure, frame) {
        case let (failure?, frame?): return "\(failure) at \(frame)"
        case let (failure?, nil): return failure
        default: return String((lines.last { !$0.hasPrefix(" ") } ?? "no log").prefix(300))
        }
    }

    /// Starts a new process on the same data directory (after a crash).
    func restart() async throws {
        process.kill()
        process = RunnelProcess(dataDirectory: dataDirectory, arguments: arguments)
        try await start()
    }

    /// Stops the process and removes its data.
    func stop() {
        process.terminate()
        try? FileManager.default.removeItem(atPath: dataDirectory)
        try? FileManager.default.removeItem(atPath: dataDirectory + ".log")
    }
}
