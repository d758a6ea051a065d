import Foundation

/// Flag values fall back to `RUNNEL_*` environment variables (`--data-dir` ↔
/// `RUNNEL_DATA_DIR`), then to the embedded default.
enum Env {
    static func value(_ flag: String?, _ variable: String, default fallback: String) -> String {
        if let flag { return flag }
        if let env = ProcessInfo.processInfo.environment[variable], !env.isEmpty { return env }
        return fallback
    }

    static func value(_ flag: String?, _ variable: String) -> String? {
        if let flag { return flag }
        if let env = ProcessInfo.processInfo.environment[variable], !env.isEmpty { return env }
        return nil
    }
}

/// `host:port` as given to `--listen`.
struct HostPort {
    var host: String
    var port: Int

    init?(_ text: String) {
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

/// Writes a line to standard output immediately (tests and scripts wait for it).
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
