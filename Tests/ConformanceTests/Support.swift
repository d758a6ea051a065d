import Foundation
import RunnelTesting
import Testing

typealias Response = HTTPTestClient.Response

/// The route families every stream speaks (api.md §1). The official suite is written for
/// `/v1/stream/<name>`; each ported case runs on every family where its paths allow.
enum Family: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case v1
    case ds
    case legacy

    /// The URL path of stream `name` in this family.
    func path(of name: String) -> String {
        switch self {
        case .v1: "/v1/stream/\(name)"
        case .ds: "/ds/_default/\(name)"
        case .legacy: "/streams/\(name)"
        }
    }

    var testDescription: String {
        switch self {
        case .v1: "/v1/stream/"
        case .ds: "/ds/_default/"
        case .legacy: "/streams/"
        }
    }
}

let tp = "text/plain"
let js = "application/json"
let os = "application/octet-stream"
/// The stream-start offset literal the suite uses as a fork offset (conformance §3).
let zeroOffset = "0000000000000000_0000000000000000"

/// One conformance test's view of the shared server: unique stream paths in one family, and
/// request helpers over the shared connection pool.
struct DS: Sendable {
    let family: Family

    init(_ family: Family = .v1) { self.family = family }

    /// A fresh, unique stream path (tests run in parallel and never share streams).
    func stream(_ label: String = "s") -> String {
        family.path(of: "\(label)-\(UUID().uuidString.lowercased())")
    }

    func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) async throws -> Response {
        try await ConnectionPool.shared.request(method, path, headers: headers, body: body)
    }

    /// `PUT` with a Content-Type (nil: none) and an optional body.
    @discardableResult
    func put(_ path: String, ct: String? = tp, body: String? = nil, _ headers: [(String, String)] = []) async throws -> Response {
        try await putBytes(path, ct: ct, body: body.map { Array($0.utf8) }, headers)
    }

    @discardableResult
    func putBytes(_ path: String, ct: String? = tp, body: [UInt8]?, _ headers: [(String, String)] = []) async throws -> Response {
        var all = headers
        if let ct { all.insert(("Content-Type", ct), at: 0) }
        return try await request("PUT", path, headers: all, body: body)
    }

    /// `POST` with a Content-Type (nil: none) and a body (nil: no body at all).
    @discardableResult
    func post(_ path: String, ct: String? = tp, body: String?, _ headers: [(String, String)] = []) async throws -> Response {
        try await postBytes(path, ct: ct, body: body.map { Array($0.utf8) }, headers)
    }

    @discardableResult
    func postBytes(_ path: String, ct: String? = tp, body: [UInt8]?, _ headers: [(String, String)] = []) async throws -> Response {
        var all = headers
        if let ct { all.insert(("Content-Type", ct), at: 0) }
        return try await request("POST", path, headers: all, body: body)
    }

    /// `GET path?query` (query without the `?`; empty for none).
    func get(_ path: String, _ query: String = "", _ headers: [(String, String)] = []) async throws -> Response {
        try await request("GET", query.isEmpty ? path : "\(path)?\(query)", headers: headers)
    }

    func head(_ path: String) async throws -> Response { try await request("HEAD", path) }

    @discardableResult
    func delete(_ path: String) async throws -> Response { try await request("DELETE", path) }

    /// Close-only: `POST` with `Stream-Closed: true` and no body.
    @discardableResult
    func close(_ path: String, _ headers: [(String, String)] = []) async throws -> Response {
        try await request("POST", path, headers: [("Stream-Closed", "true")] + headers)
    }

    /// A fork `PUT` of `source` at `path`.
    @discardableResult
    func fork(
        _ path: String, from source: String, offset: String? = nil, sub: String? = nil, ct: String? = tp,
        body: String? = nil, _ headers: [(String, String)] = []
    ) async throws -> Response {
        var all = [("Stream-Forked-From", source)]
        if let offset { all.append(("Stream-Fork-Offset", offset)) }
        if let sub { all.append(("Stream-Fork-Sub-Offset", sub)) }
        return try await put(path, ct: ct, body: body, all + headers)
    }

    /// The whole stream by catch-up reads from the start, following `Stream-Next-Offset`
    /// across chunks (the suite's client `stream({live:false})`).
    func readAll(_ path: String) async throws -> [UInt8] {
        var offset = "-1"
        var bytes: [UInt8] = []
        for _ in 0..<1000 {
            let r = try await get(path, "offset=\(urlEncode(offset))")
            guard r.status == 200 else { throw TestFailure("read of \(path) answered \(r.status): \(r.text)") }
            bytes += r.body
            guard let next = r.nextOffset else { throw TestFailure("read without Stream-Next-Offset") }
            if r.upToDate || next == offset { return bytes }
            offset = next
        }
        throw TestFailure("read did not reach the tail in 1000 chunks")
    }

    func readText(_ path: String) async throws -> String { String(decoding: try await readAll(path), as: UTF8.self) }

    /// Polls `HEAD` every 200 ms until it answers one of `statuses` or `timeout` passes
    /// (the suite's `waitForDeletion`). Returns the last status.
    func waitForStatus(_ path: String, _ statuses: Set<Int> = [404], timeout: Duration = .seconds(5)) async throws -> Int {
        try await waitForStatus(path, statuses, by: ContinuousClock.now + timeout)
    }

    /// ``waitForStatus(_:_:timeout:)`` with an absolute deadline, for cases that must see the
    /// status before a given instant (an expiry that a renewal would have pushed past it).
    func waitForStatus(_ path: String, _ statuses: Set<Int> = [404], by deadline: ContinuousClock.Instant) async throws -> Int {
        var last = 0
        repeat {
            last = try await head(path).status
            if statuses.contains(last) { return last }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < deadline
        return last
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Response {
    var nextOffset: String? { header("Stream-Next-Offset") }
    var upToDate: Bool { header("Stream-Up-To-Date") == "true" }
    var closed: Bool { header("Stream-Closed") == "true" }
    var contentType: String? { header("Content-Type") }
    /// The body parsed as JSON (nil if it does not parse).
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` percent-encoded.
func urlEncode(_ s: String) -> String {
    var out = ""
    for byte in s.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "~"),
             UInt8(ascii: "*"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            out += String(format: "%%%02X", byte)
        }
    }
    return out
}

/// Compares two JSON documents structurally.
func jsonEqual(_ a: Any?, _ b: String) -> Bool {
    guard let a, let parsed = try? JSONSerialization.jsonObject(with: Data(b.utf8), options: [.fragmentsAllowed]) else {
        return false
    }
    return NSDictionary(dictionary: ["v": a]).isEqual(to: ["v": parsed])
}

/// An RFC 3339 UTC timestamp `seconds` from now, with `Z` (or `+00:00` when asked).
func isoDate(secondsFromNow seconds: Double, offsetSuffix: Bool = false) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let text = formatter.string(from: Date().addingTimeInterval(seconds))
    return offsetSuffix ? String(text.dropLast()) + "+00:00" : text
}

/// Lets the test clock reach `instant`. The TTL cases take their instants when a response
/// arrives (the server acted no later), so the latency of the requests in between never adds
/// up and pushes a step out of the window it is meant to fall in; whether a window has closed
/// is observed (a twin stream's expiry, polled with a deadline), never assumed from a sleep.
func pause(until instant: ContinuousClock.Instant) async throws {
    try await Task.sleep(until: instant, clock: .continuous)
}

/// Elapsed wall time of `body`.
func timed<R>(_ body: () async throws -> R) async rethrows -> (R, Duration) {
    let start = ContinuousClock.now
    let result = try await body()
    return (result, ContinuousClock.now - start)
}

/// Runs `body`, failing with a `TestFailure` if it takes longer than `limit` (the suite's
/// per-test timeouts and client aborts). The body is cancelled on timeout.
func within<R: Sendable>(_ limit: Duration, _ what: String = "request", _ body: @escaping @Sendable () async throws -> R) async throws -> R {
    try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestFailure("\(what) did not finish within \(limit)")
        }
        return value
    }
}
