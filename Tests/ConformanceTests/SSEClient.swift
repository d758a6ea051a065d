import Foundation
import RunnelTesting

/// What an SSE read received before it stopped (the suite's `fetchSSE`, conformance §2.2).
struct SSEResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    /// The decoded (de-chunked) body text received so far.
    var text: String
    /// The server ended the body (terminal chunk or connection close).
    var ended: Bool

    func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    var events: [SSEEvent] { SSEEvent.parse(text) }
    var controls: [[String: Any]] {
        events.filter { $0.type == "control" }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any]
        }
    }
    var dataEvents: [SSEEvent] { events.filter { $0.type == "data" } }
}

/// One parsed SSE event (the suite's `parseSSEEvents`).
struct SSEEvent: Sendable {
    var type: String
    var data: String

    /// Normalises CRLF and CR to LF, splits on blank lines, takes `event:` (trimmed) and
    /// joins `data:` lines (one leading space stripped) with `\n`.
    static func parse(_ text: String) -> [SSEEvent] {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var events: [SSEEvent] = []
        for block in normalized.components(separatedBy: "\n\n") {
            var type = ""
            var data: [String] = []
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("event:") {
                    type = line.dropFirst(6).trimmingCharacters(in: .whitespaces)
                } else if line.hasPrefix("data:") {
                    var value = line.dropFirst(5)
                    if value.hasPrefix(" ") { value = value.dropFirst() }
                    data.append(String(value))
                }
            }
            if !type.isEmpty || !data.isEmpty { events.append(SSEEvent(type: type, data: data.joined(separator: "\n"))) }
        }
        return events
    }
}

/// A minimal HTTP/1.1 reader over a raw connection (TLS when the server is), which reads a
/// response incrementally (SSE) and de-chunks the body itself, so the test sees the bytes
/// exactly as the server framed them.
enum SSEClient {
    /// `GET path` with `Accept: text/event-stream`; stops after `timeout`, after
    /// `maxChunks` network reads, once `until` has appeared followed by a blank line, or when
    /// the server ends the body.
    static func fetch(
        port: Int, trustRoot: String? = nil, path: String, until: String? = nil, timeout: Duration = .seconds(2), maxChunks: Int = 10
    ) async throws -> SSEResponse {
        let deadline = ContinuousClock.now + timeout
        let connection = try await RawConnection(port: port, trustRoot: trustRoot)
        connection.close(after: timeout)
        let authorization = try await ConformanceServer.authorization().map { "Authorization: \($0)\r\n" } ?? ""
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n\(authorization)Connection: close\r\n\r\n"
        try await connection.send(request)

        var raw: [UInt8] = []
        var parser = ResponseParser()
        var reads = 0
        while reads < maxChunks {
            let received: [UInt8]?
            do { received = try await connection.read() } catch { received = nil }
            guard let received else {
                // Closed (or reset) by the server, unless it was our timer.
                if parser.headComplete, ContinuousClock.now < deadline { parser.ended = true }
                break
            }
            raw += received
            parser.feed(raw)
            if parser.headComplete { reads += 1 }
            if parser.ended { break }
            if let until, parser.headComplete {
                let text = String(decoding: parser.body, as: UTF8.self)
                if let range = text.range(of: until), text[range.upperBound...].contains("\n\n") || text[range.upperBound...].contains("\r\n\r\n") {
                    break
                }
            }
        }
        await connection.close()
        guard parser.headComplete else { throw TestFailure("no response head within \(timeout)") }
        return SSEResponse(status: parser.status, headers: parser.headers, text: String(decoding: parser.body, as: UTF8.self), ended: parser.ended)
    }

    /// Fetches from the shared conformance server.
    static func fetch(_ path: String, until: String? = nil, timeout: Duration = .seconds(2), maxChunks: Int = 10) async throws -> SSEResponse {
        try await fetch(port: ConformanceServer.port(), trustRoot: ConformanceServer.trustRoot(), path: path, until: until,
                        timeout: timeout, maxChunks: maxChunks)
    }
}

/// Parses an HTTP/1.1 response head and a chunked, length-delimited or close-delimited body
/// from all bytes received so far.
private struct ResponseParser {
    var status = 0
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []
    var headComplete = false
    var ended = false

    mutating func feed(_ raw: [UInt8]) {
        guard let headEnd = find(raw, [13, 10, 13, 10], from: 0) else { return }
        let head = String(decoding: raw[0..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        status = Int(head[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        headers = head.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        headComplete = true
        let rest = Array(raw[(headEnd + 4)...])
        let te = headers.first { $0.name.lowercased() == "transfer-encoding" }?.value.lowercased()
        if te?.contains("chunked") == true {
            body = []
            var i = 0
            while let lineEnd = find(rest, [13, 10], from: i) {
                let sizeText = String(decoding: rest[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return }
                if size == 0 { ended = true; return }
                let start = lineEnd + 2
                guard rest.count >= start + size else {
                    body += rest[start...]
                    return
                }
                body += rest[start..<(start + size)]
                i = start + size + 2
                if i > rest.count { return }
            }
        } else if let length = headers.first(where: { $0.name.lowercased() == "content-length" }).flatMap({ Int($0.value) }) {
            body = Array(rest.prefix(length))
            if rest.count >= length { ended = true }
        } else {
            body = rest
        }
    }

    private func find(_ haystack: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        guard haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        for i in from...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }
}
