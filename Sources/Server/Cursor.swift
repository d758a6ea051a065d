/// The CDN-collapsing cursor of live reads (protocol §11): the number of 20-second intervals
/// since 2024-10-09T00:00:00Z, never going backwards for a client that echoes it.
///
/// The client's `cursor` is hostile input: it is parsed, never trusted in arithmetic. A cursor
/// further ahead than this server could have issued (the current interval plus the largest
/// jitter) is clamped to that furthest value, so an absurd cursor (`Int64.max`) neither traps
/// nor grows the answer without bound.
enum Cursor {
    static let epochMilliseconds: Int64 = 1_728_432_000_000
    static let intervalMilliseconds: Int64 = 20_000
    /// A client already at or past the current interval gets 1–3600 s of jitter ahead.
    static let maxJitterIntervals: Int64 = 3600 * 1000 / intervalMilliseconds

    /// The cursor to answer a live read with, at time `now` (Unix milliseconds).
    static func next(now: Int64, clientCursor: String?) -> String {
        next(now: now, clientCursor: clientCursor, jitter: Int64.random(in: 1...maxJitterIntervals))
    }

    /// `next` with the jitter (1...`maxJitterIntervals`) given, so tests are deterministic.
    static func next(now: Int64, clientCursor: String?, jitter: Int64) -> String {
        let (sinceEpoch, overflow) = now.subtractingReportingOverflow(epochMilliseconds)
        let current = overflow ? 0 : max(0, sinceEpoch / intervalMilliseconds)
        let jitter = min(max(jitter, 1), maxJitterIntervals)
        guard let text = clientCursor, let client = Int64(text), client >= current else {
            return String(current)
        }
        // `current` is at most Int64.max / 20_000, so these sums cannot overflow.
        let furthestIssued = current + maxJitterIntervals
        return String(min(client, furthestIssued) + jitter)
    }
}
