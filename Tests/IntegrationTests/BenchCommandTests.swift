import Foundation
import RunnelTesting
import Testing

/// `runnel bench append|read|fanout` against a real node: each prints one JSON result line
/// with work done and no errors.
@Suite(.serialized) struct BenchCommandTests {
    @Test func append() async throws {
        let result = try await benchAgainstNode(["append", "--connections", "4", "--duration", "1", "--warmup", "0", "--producer-headers"])
        #expect(result["workload"] as? String == "append")
        #expect((result["appends"] as? Int ?? 0) > 0)
        #expect((result["errors"] as? [String: Int])?.isEmpty == true)
    }

    @Test func read() async throws {
        let result = try await benchAgainstNode(["read", "--size-mb", "2", "--chunk", "65536", "--passes", "1"])
        #expect(result["bytes"] as? Int == 2 * 1024 * 1024)
        #expect(result["messages"] as? Int == 32)
    }

    @Test func fanout() async throws {
        let result = try await benchAgainstNode(["fanout", "--subscribers", "8", "--rate", "50", "--duration", "1"])
        let appended = result["appended"] as? Int ?? 0
        #expect(appended > 0)
        #expect(result["delivered"] as? Int == appended * 8)
        #expect((result["errors"] as? [String: Int])?.isEmpty == true)
    }

    /// Starts a node, runs `runnel bench ARGS --url … --json` and returns its last JSON line.
    private func benchAgainstNode(_ arguments: [String]) async throws -> [String: Any] {
        let dir = RunnelProcess.temporaryDirectory("bench")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RunnelProcess(dataDirectory: dir)
        try await node.start()
        defer { node.terminate() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: RunnelProcess.binaryPath)
        process.arguments = ["bench"] + arguments + ["--url", "http://127.0.0.1:\(node.port)", "--json"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let line = try #require(text.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
}
