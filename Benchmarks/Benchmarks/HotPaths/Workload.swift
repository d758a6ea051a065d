import Foundation
import Logging
import Replication
import Storage
import StreamModel

/// The unit of work every micro-benchmark shares: one group-commit batch of
/// ``commandCount`` appends of ``bodyBytes`` each to one stream, the shape the storage and
/// HTTP benchmarks drive (docs/benchmarks.md).
enum Workload {
    static let commandCount = 64
    static let bodyBytes = 256
    static let path = StreamPath(bucket: Identifiers.defaultBucket, name: "bench")
    static let binaryType = "application/octet-stream"
    static let textType = "text/plain"
    /// Leader time stamped on the batch (ms since the Unix epoch); any fixed value will do.
    static let time: Int64 = 1_767_225_600_000

    /// Printable bytes ending in a newline, distinct per command, so a text stream reads
    /// back as one SSE `data:` line per append.
    static func body(_ i: Int) -> [UInt8] {
        var bytes = (0..<bodyBytes - 1).map { UInt8(ascii: "a") + UInt8(($0 + i) % 26) }
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    static func appends(contentType: String) -> [Command] {
        (0..<commandCount).map { i in
            .append(AppendStream(path: path, contentType: contentType, body: .bytes(body(i))))
        }
    }

    static func create(contentType: String) -> Command {
        .create(CreateStream(path: path, contentType: contentType))
    }

    /// The batch as a log entry carries it, each command tagged with its origin's sequence number.
    static var batch: CommandBatch {
        CommandBatch(time: time, commands: appends(contentType: binaryType).enumerated().map { i, command in
            (tag: ProposalTag(origin: 1, seq: UInt64(i + 1)), command: command)
        })
    }

    /// Encodes a key or log index big-endian, as Storage lays out its keys.
    static func bigEndian(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    static let quietLogger = Logger(label: "runnel.benchmarks", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// A fresh directory under the system's temporary directory, removed by ``remove()``.
struct TemporaryDirectory {
    let path: String

    init(_ label: String) {
        path = (NSTemporaryDirectory() as NSString)
            .appendingPathComponent("runnel-bench-\(label)-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(atPath: path)
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
