import Foundation
#if canImport(Glibc)
import Glibc
#endif

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

/// A minimal blocking HTTP/1.1 reader over a raw socket, run on its own thread so it never
/// blocks the cooperative pool. It reads a response incrementally (SSE), de-chunking the body.
enum SSEClient {
    /// `GET path` with `Accept: text/event-stream`; stops after `timeout`, after
    /// `maxChunks` network reads, once `until` has appeared followed by a blank line, or when
    /// the server ends the body.
    static func fetch(
        port: Int, path: String, until: String? = nil, timeout: Duration = .seconds(2), maxChunks: Int = 10
    ) async throws -> SSEResponse {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try run(port: port, path: path, until: until, timeout: timeout, maxChunks: maxChunks) })
            }
            thread.start()
        }
    }

    /// Fetches from the shared conformance server.
    static func fetch(_ path: String, until: String? = nil, timeout: Duration = .seconds(2), maxChunks: Int = 10) async throws -> SSEResponse {
        try await fetch(port: ConformanceServer.port(), path: path, until: until, timeout: timeout, maxChunks: maxChunks)
    }

    private static func run(port: Int, path: String, until: String?, timeout: Duration, maxChunks: Int) throws -> SSEResponse {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("connect() failed") }
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
        let sent = request.utf8CString.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count - 1, 0) }
        guard sent == request.utf8.count else { throw TestFailure("send() failed") }

        let deadline = ContinuousClock.now + timeout
        var raw: [UInt8] = []
        var parser = ResponseParser()
        var reads = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while reads < maxChunks {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            let ms = max(1, Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                break
            }
            if n == 0 { parser.ended = true; break }
            raw += buffer[0..<n]
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
        guard parser.headComplete else { throw TestFailure("no response head within \(timeout)") }
        return SSEResponse(status: parser.status, headers: parser.headers, text: String(decoding: parser.body, as: UTF8.self), ended: parser.ended)
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
