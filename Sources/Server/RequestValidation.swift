import HTTPTypes
import NIOHTTP1

/// Checks of the request head that no handler should have to repeat: framing and
/// expectations the server does not support, and the `Host` rules of RFC 9112 §3.2.
/// They run before routing, so a refused request changes nothing.
enum RequestValidation {
    /// The only transfer coding the server decodes (RFC 9112 §7.1). Anything else (for example
    /// `gzip, chunked`) is refused rather than stored still encoded.
    static let supportedTransferCoding = "chunked"

    /// `Host`, by name: HTTPTypes hides its own constant in favour of the authority.
    static let hostField = HTTPField.Name("Host")!

    /// Throws the `APIError` a malformed or unsupported request head gets.
    static func check(_ request: HTTPRequest) throws(APIError) {
        // RFC 9110 §10.1.1: an expectation the server cannot meet is a 417.
        for value in request.headerFields[values: .expect] {
            guard value.trimmed.lowercased() == "100-continue" else {
                throw APIError(.expectationFailed, "unsupported_expectation", "the only supported expectation is 100-continue")
            }
        }
        // RFC 9112 §6.1: a server that receives a transfer coding it does not understand
        // answers 501 (Not Implemented).
        let codings = request.headerFields[values: .transferEncoding]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmed.lowercased() }
        if !codings.isEmpty && codings != [supportedTransferCoding] {
            throw APIError(.notImplemented, "unsupported_transfer_coding",
                           "the only supported Transfer-Encoding is chunked")
        }
        // RFC 9112 §3.2: exactly one Host. The parser moves the first one into the
        // authority; any further one stays a field.
        let extraHosts = request.headerFields[values: Self.hostField].count
        if request.authority == nil && extraHosts == 0 {
            throw APIError.badRequest("missing_host", "the request has no Host header")
        }
        if extraHosts + (request.authority == nil ? 0 : 1) > 1 {
            throw APIError.badRequest("repeated_header", "Host must appear exactly once")
        }
    }
}

extension APIError {
    /// A request the HTTP/1.1 parser refused (bad chunk framing, invalid characters, …),
    /// as a 400 with a stable code per parser error.
    init(_ error: HTTPParserError) {
        let code: String = switch error {
        case .invalidChunkSize: "invalid_chunk_size"
        case .invalidContentLength, .unexpectedContentLength: "invalid_content_length"
        case .headerOverflow: "headers_too_large"
        case .lfExpected, .strictModeAssertion, .invalidConstant: "invalid_framing"
        case .invalidHeaderToken, .invalidCharactersUsed: "invalid_header"
        case .invalidMethod: "invalid_method"
        // Bytes a request target may not hold (such as raw invalid UTF-8).
        case .invalidURL, .invalidPath, .invalidQueryString, .invalidFragment, .invalidHost, .invalidPort: "invalid_path"
        case .invalidVersion: "invalid_version"
        default: "malformed_request"
        }
        self.init(.badRequest, code, "the request is not well-formed HTTP/1.1")
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (optional whitespace, RFC 9110 §5.6.3).
    var trimmed: Substring {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return Substring(s)
    }
}
