/// The CDN-collapsing cursor of live reads (protocol §11): the number of 20-second intervals
/// since 2024-10-09T00:00:00Z, never going backwards for a client that echoes it.
enum Cursor {
    static let epochMilliseconds: Int64 = 1_728_432_000_000
    static let intervalMilliseconds: Int64 = 20_000
    /// A client already at or past the current interval gets 1–3600 s of jitter ahead.
    static let maxJitterIntervals: Int64 = 3600 * 1000 / intervalMilliseconds

    static func next(now: Int64, clientCursor: String?) -> String {
        let current = max(0, (now - epochMilliseconds) / intervalMilliseconds)
        if let text = clientCursor, let client = Int64(text), client >= current {
            return String(client + Int64.random(in: 1...maxJitterIntervals))
        }
        return String(current)
    }
}
