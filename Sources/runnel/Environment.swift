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

/// Writes a line to standard output immediately (tests and scripts wait for it).
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Raises the soft limit on open files to the hard limit, as servers do: every live reader
/// (and every connection of `runnel bench`) holds a socket, and a distribution's default soft
/// limit (often 1024) would refuse connections long before memory runs out. Returns the new
/// soft limit, nil if unchanged.
func raiseOpenFileLimit() -> UInt64? {
    #if canImport(Glibc)
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return nil }
    limit.rlim_cur = limit.rlim_max
    guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
    return UInt64(limit.rlim_cur)
    #else
    return nil
    #endif
}
