import NIOCore
import NIOHTTP1
@testable import Server
import Testing

/// The SSE fan-out writes HTTP/1.1 chunks itself, below NIO's encoder, only for responses the
/// encoder would chunk (`HTTP1Guard.encoderChunks`), and frames them as the encoder does.
@Suite struct ChunkFramingTests {
    @Test(arguments: [
        (HTTPVersion.http1_1, HTTPResponseStatus.ok, false, true),
        (.http1_1, .ok, true, false),                  // Content-Length: not chunked
        (.http1_1, .noContent, false, false),          // no body
        (.http1_1, .notModified, false, false),
        (.http1_1, .continue, false, false),
        (.http1_0, .ok, false, false),                 // HTTP/1.0: delimited by the close
        (.http1_1, .badRequest, false, true),
    ] as [(HTTPVersion, HTTPResponseStatus, Bool, Bool)])
    func encoderChunks(version: HTTPVersion, status: HTTPResponseStatus, contentLength: Bool, chunked: Bool) {
        var headers = HTTPHeaders([("content-type", "text/event-stream")])
        if contentLength { headers.add(name: "content-length", value: "5") }
        #expect(HTTP1Guard.encoderChunks(HTTPResponseHead(version: version, status: status, headers: headers)) == chunked)
    }

    /// One chunk: the size in hex, CRLF, the bytes, CRLF; the body-part form is the bytes.
    @Test func anEventIsFramedAsOneChunk() {
        let bytes = ByteBuffer(string: String(repeating: "x", count: 300))
        let event = SSEFanout.Event(bytes)
        #expect(event.bytes == bytes)
        #expect(String(buffer: event.chunk) == "12c\r\n" + String(repeating: "x", count: 300) + "\r\n")
    }
}
