import Foundation
import Synchronization

/// A real `runnel serve` process on a loopback port chosen by the OS, with its own data
/// directory, for integration tests. Finds the binary through `RUNNEL_BINARY` (set by
/// `make test`) or `.build/debug/runnel`.
public final class RunnelProcess: @unchecked Sendable {
    public let dataDirectory: String
    public private(set) var port: Int = 0
    private var process: Process?
    /// `kill`/`terminate` saw the current process exit (Foundation may not have noticed yet).
    private let exited = Mutex(false)
    private let extraArguments: [String]
    private let logPath: String

    public init(dataDirectory: String, arguments: [String] = []) {
        self.dataDirectory = dataDirectory
        self.extraArguments = arguments
        self.logPath = dataDirectory + ".log"
    }

    public static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["RUNNEL_BINARY"] { return path }
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent(".build/debug/runnel").path
    }

    /// Starts the process and waits (up to `timeout`) until it announces its port.
    public func start(timeout: Duration = .seconds(30)) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaryPath)
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDirectory] + extraArguments
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = log
        try process.run()
        self.process = process
        exited.withLock { $0 = false }

        let fd = pipe.fileHandleForReading.fileDescriptor
        let announced = await onOwnThread { Self.readAnnouncedPort(from: fd, until: ContinuousClock.now + timeout) }
        withExtendedLifetime(pipe) {}  // its file descriptor was read above
        if let announced {
            port = announced
            return
        }
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw HTTPTestClient.ClientError(description: "runnel did not start within \(timeout): \(output.suffix(2000))")
    }

    /// Reads the process's standard output until it says "runnel listening on HOST:PORT
    /// (scheme)", it closes, or `deadline` passes. Blocking reads, polled so the deadline holds:
    /// run it off the cooperative pool.
    private static func readAnnouncedPort(from fd: Int32, until deadline: ContinuousClock.Instant) -> Int? {
        var seen: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }  // closed: the process exited
            seen += buffer[..<n]
            let text = String(decoding: seen, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("runnel listening on ") }),
               let address = line.split(separator: " ").dropFirst(3).first,
               let port = Int(address.split(separator: ":").last ?? "") {
                return port
            }
        }
        return nil
    }

    /// SIGKILL: no shutdown path runs, exactly like a crash or power loss of the process.
    public func kill() {
        guard let process, isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        waitForExit(of: process, timeout: .seconds(30))
    }

    /// SIGTERM, then wait for a clean exit.
    public func terminate() {
        guard let process, isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGTERM)
        waitForExit(of: process, timeout: .seconds(120))
    }

    /// Waits until `process` has exited, watching `/proc/<pid>/stat` for it to be gone or a
    /// zombie, and counts it exited from then on.
    ///
    /// Not `Process.waitUntilExit`: Foundation learns of the exit on a libdispatch thread,
    /// and on two cores that pool can be full (a CPU-bound test on one thread, blocking waits
    /// like this one on the others), so the wait could last until some other test ended. A
    /// `make test` run hung so, and a timed kill in `ClusterTests` was slowed by it.
    private func waitForExit(of process: Process, timeout: Duration) {
        let pid = process.processIdentifier
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { break }
            // The state is the first field after the command name, which is in parentheses.
            if let close = stat.lastIndex(of: ")"), stat[stat.index(after: close)...].dropFirst().first == "Z" { break }
            // Still running at the deadline (a shutdown that hangs): left running, for the
            // test to fail on.
            guard ContinuousClock.now < deadline else { return }
            usleep(5_000)
        }
        exited.withLock { $0 = true }
    }

    /// Sends `signal` (SIGSTOP to hang the node, SIGCONT to resume it).
    public func signal(_ signal: Int32) {
        guard let process, isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
    }

    /// Started, and neither seen to exit by Foundation nor waited for by `kill`/`terminate`.
    public var isRunning: Bool {
        guard let process, process.isRunning else { return false }
        return !exited.withLock { $0 }
    }

    /// The process id while the process runs.
    public var pid: Int32? { isRunning ? process?.processIdentifier : nil }

    /// The process's resident set size in bytes (`VmRSS` in `/proc/<pid>/status`), nil if
    /// it is not running or the platform has no procfs.
    public var residentBytes: Int? {
        guard let pid, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
        return kib * 1024
    }

    /// The process's log (standard error) so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit { kill() }

    /// A fresh temporary directory path (not created).
    public static func temporaryDirectory(_ name: String) -> String {
        NSTemporaryDirectory() + "runnel-test-\(name)-\(UUID().uuidString.prefix(8))"
    }
}

extension RunnelProcess {
    /// Runs `body` against a fresh node (a data directory of its own, removed afterwards)
    /// through a client connected to it; the node is stopped however `body` ends.
    public static func withNode(
        _ name: String, arguments: [String] = [], _ body: (HTTPTestClient, RunnelProcess) async throws -> Void
    ) async throws {
        let dir = temporaryDirectory(name)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir, arguments: arguments)
        try await node.start()
        defer { node.terminate() }
        let client = try await HTTPTestClient(port: node.port)
        try await body(client, node)
        await client.close()
    }
}

/// Runs `body` on a thread of its own and awaits its result: for blocking work (reading a
/// pipe, waiting for a process, a CPU-bound loop) that must not hold one of the cooperative
/// pool's threads, which on two cores are two: every async test in the process waits while
/// both are blocked, and the timers of their requests run on regardless (a `make test` run
/// failed so in some twenty tests at once; a minute-long Raft simulation on the pool starved
/// the TTL conformance tests). The stack is 16 MiB for deep simulation traces.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.stackSize = 16 << 20
        thread.start()
    }
}
