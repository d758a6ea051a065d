import Foundation

/// Reads HTTP/1.1 responses out of the bytes a server sends on one connection (RFC 9112 §6):
/// status lines and headers, bodies skipped by `Content-Length`, chunked coding, or until the
/// close; interim 1xx answers skipped; HEAD, 204 and 304 answers without a body. The fuzzer
/// needs every status, also those of pipelined answers behind a body.
public struct HTTP1ResponseScanner: Sendable {
    /// A response head.
    public struct Head: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]

        public func header(_ name: String) -> String? {
            let lower = name.lowercased()
            return headers.first { $0.name.lowercased() == lower }?.value
        }
    }

    private enum State: Sendable {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case trailers
        case untilClose
    }

    private var buffer: [UInt8] = []
    private var position = 0
    private var state = State.head
    private let methods: [String]
    /// Final (non-1xx) response heads, in order.
    public private(set) var heads: [Head] = []
    /// The bytes could not be read as HTTP/1.1 responses.
    public private(set) var malformed = false

    /// `methods` are those of the requests sent, in order, to know which answers have no body.
    public init(methods: [String]) { self.methods = methods }

    public mutating func feed(_ bytes: [UInt8]) {
        buffer += bytes
        while !malformed, step() {}
        if position > 65_536 {
            buffer.removeFirst(position)
            position = 0
        }
    }

    /// The index of the next CRLF from `position`, if any.
    private func lineEnd() -> Int? {
        var i = position
        while i + 1 < buffer.count {
            if buffer[i] == 0x0D && buffer[i + 1] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    /// Consumes one piece; false when more bytes are needed.
    private mutating func step() -> Bool {
        switch state {
        case .head:
            guard let end = headEnd() else { return false }
            let text = String(decoding: buffer[position..<end], as: UTF8.self)
            position = end + 4
            var lines = text.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
            guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
                malformed = true
                return false
            }
            let headers = lines.compactMap { line -> (name: String, value: String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            if (100..<200).contains(status) { return true }
            let head = Head(status: status, headers: headers)
            let method = heads.count < methods.count ? methods[heads.count] : "GET"
            heads.append(head)
            if method == "HEAD" || status == 204 || status == 304 {
                state = .head
            } else if head.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
                state = .chunkSize
            } else if let length = head.header("Content-Length").flatMap({ Int($0) }) {
                state = .body(remaining: length)
            } else {
                state = .untilClose
            }
            return true
        case .body(let remaining):
            let available = min(remaining, buffer.count - position)
            position += available
            state = remaining == available ? .head : .body(remaining: remaining - available)
            return remaining == available
        case .chunkSize:
            guard let end = lineEnd() else { return false }
            let line = String(decoding: buffer[position..<end], as: UTF8.self)
            position = end + 2
            guard let size = Int(line.split(separator: ";").first ?? "", radix: 16) else {
                malformed = true
                return false
            }
            state = size == 0 ? .trailers : .chunkData(remaining: size + 2)
            return true
        case .chunkData(let remaining):
            let available = min(remaining, buffer.count - position)
            position += available
            state = remaining == available ? .chunkSize : .chunkData(remaining: remaining - available)
            return remaining == available
        case .trailers:
            guard let end = lineEnd() else { return false }
            let empty = end == position
            position = end + 2
            if empty { state = .head }
            return true
        case .untilClose:
            position = buffer.count
            return false
        }
    }

    /// The index of the CRLFCRLF that ends a head starting at `position`.
    private func headEnd() -> Int? {
        var i = position
        while i + 3 < buffer.count {
            if buffer[i] == 0x0D && buffer[i + 1] == 0x0A && buffer[i + 2] == 0x0D && buffer[i + 3] == 0x0A { return i }
            i += 1
        }
        return nil
    }
}
