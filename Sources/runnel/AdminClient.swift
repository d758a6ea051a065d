import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A minimal client of a node's admin API (api.md §3) for `runnel cluster` and `serve --join`:
/// one HTTP/1.1 request per connection over the bench client's connection code, JSON in and out.
struct AdminClient: Sendable {
    /// Sent as `Authorization: Bearer` when set (docs/access-control.md).
    let token: String?
    let target: BenchTarget
    let tls: NIOSSLContext?

    /// An answer: status, the raw body, and the parsed `{"error":{"code","message"}}` if any.
    struct Answer: Sendable {
        var status: UInt
        var body: String

        var isSuccess: Bool { (200..<300).contains(status) }

        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        }

        /// The server's error code (`membership_change_in_progress`, …), if it sent one.
        var errorCode: String? { (json?["error"] as? [String: Any])?["code"] as? String }

        /// `HTTP 409 membership_change_in_progress: <message>`, for the operator.
        var errorDescription: String {
            let error = json?["error"] as? [String: Any]
            let code = error?["code"] as? String
            let message = error?["message"] as? String ?? body.trimmingCharacters(in: .whitespacesAndNewlines)
            return "HTTP \(status)" + (code.map { " \($0)" } ?? "") + (message.isEmpty ? "" : ": \(message)")
        }
    }

    /// `url` is the node's base URL (`http://HOST:PORT` or `https://…`); `caFile` the PEM of
    /// the CAs to trust for https.
    init(url: String, caFile: String?, token: String? = nil) throws {
        self.token = token
        target = try BenchTarget(url)
        if target.tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile { configuration.trustRoots = .file(caFile) }
            configuration.applicationProtocols = ["http/1.1"]
            tls = try NIOSSLContext(configuration: configuration)
        } else {
            tls = nil
        }
    }

    /// Sends one request with an optional JSON body; throws only when no answer came (the
    /// connection failed or timed out).
    func request(_ method: HTTPMethod, _ path: String, json: String? = nil, timeout: TimeAmount = .seconds(30)) async throws -> Answer {
        let connection = try await BenchConnection.connect(
            to: target, on: MultiThreadedEventLoopGroup.singleton.next(), tls: tls).get()
        defer { connection.close() }
        var head = connection.head(method, path, contentType: json == nil ? nil : "application/json",
                                   bodyLength: json.map { $0.utf8.count } ?? (method == .POST ? 0 : nil))
        head.headers.add(name: "Connection", value: "close")
        if let token { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let body = json.map { ByteBuffer(string: $0) }
        let response = try await connection.eventLoop.flatSubmit {
            connection.send(head, body: body, collect: true, timeout: timeout)
        }.get()
        let text = response.body.map { String(buffer: $0) } ?? ""
        return Answer(status: response.status, body: text)
    }
}
