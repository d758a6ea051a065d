import HTTPTypes
import StreamModel
import Replication
import Storage

/// An error answered to a client: an HTTP status, a stable code and message rendered as
/// `{"error":{"code":…,"message":…}}`, and any protocol headers the case requires.
struct APIError: Error {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var headers = HTTPFields()

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    static func badRequest(_ code: String, _ message: String) -> APIError { APIError(.badRequest, code, message) }

    /// 429 with `Retry-After` (a rate or quota is used up; docs/access-control.md "Quotas").
    static func tooManyRequests(_ code: String, _ message: String, retryAfter seconds: Int) -> APIError {
        var error = APIError(.tooManyRequests, code, message)
        error.headers[.retryAfter] = String(seconds)
        return error
    }

    /// The HTTP rendering of a state-machine rejection (protocol §14).
    init(_ error: ModelError) {
        let status: HTTPResponse.Status = switch error.code {
        case .bucketNotFound, .streamNotFound, .forkSourceNotFound, .snapshotNotFound, .keyNotFound: .notFound
        case .streamGone, .offsetGone: .gone
        case .producerStaleEpoch: .forbidden
        case .snapshotTooLarge: .contentTooLarge
        case .bucketQuotaExceeded: .insufficientStorage
        case .preconditionFailed: .preconditionFailed
        case .invalidBucket, .producerEpochSeq, .emptyBody, .emptyJSONArray, .invalidJSON,
             .forkOffsetInvalid, .forkSubOffsetInvalid, .invalidCommand, .invalidProducerID: .badRequest
        default: .conflict
        }
        self.init(status, error.code.rawValue, error.message)
        if let next = error.nextOffset { headers[.streamNextOffset] = next.description }
        if error.closed { headers[.streamClosed] = "true" }
        if let epoch = error.currentEpoch { headers[.producerEpoch] = String(epoch) }
        if let expected = error.expectedSeq { headers[.producerExpectedSeq] = String(expected) }
        if let received = error.receivedSeq { headers[.producerReceivedSeq] = String(received) }
        if let etag = error.etag { headers[.eTag] = etag }
        if let snapshot = error.snapshot {
            headers[.streamSnapshotOffset] = snapshot.offset.description
            headers[.streamSnapshotDigest] = snapshot.digestHex
        }
        if let retained = error.retained { headers[.streamRetainedOffset] = retained.description }
    }

    /// A node that could not take or confirm the request: 503 with `Retry-After`, except a
    /// storage failure (500) and the membership refusals (409, 404, 400; api.md §3).
    init(_ error: ReplicationError) {
        switch error.code {
        case .busy: self.init(.serviceUnavailable, "overloaded", error.message)
        case .unavailable: self.init(.serviceUnavailable, "unavailable", error.message)
        case .timeout: self.init(.serviceUnavailable, "commit_timeout", error.message)
        case .closed: self.init(.serviceUnavailable, "shutting_down", error.message)
        case .membershipChangeInProgress:
            self.init(.conflict, "membership_change_in_progress", error.message)
            return
        case .memberNotFound:
            self.init(.notFound, "member_not_found", error.message)
            return
        case .memberConflict:
            self.init(.conflict, "member_conflict", error.message)
            return
        case .invalidRequest:
            self.init(.badRequest, "invalid_member", error.message)
            return
        default:
            self.init(.internalServerError, "storage_failure", error.message)
            return
        }
        headers[.retryAfter] = "1"
    }

    /// The disk or RocksDB failed, or stored data does not decode: 500; the state is being
    /// replaced by a snapshot: 503 with `Retry-After`.
    init(_ error: StorageError) {
        guard error.code != .dropped else {
            self.init(.gone, "offset_gone", error.message)
            return
        }
        guard error.code != .unavailable else {
            self.init(.serviceUnavailable, "unavailable", error.message)
            headers[.retryAfter] = "1"
            return
        }
        self.init(.internalServerError, "storage_failure", error.message)
    }

    /// The headers of the error's answer: its own, and the JSON body's.
    var responseHeaders: HTTPFields {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return fields
    }

    var jsonBody: String {
        "{\"error\":{\"code\":\(JSONText.quote(code)),\"message\":\(JSONText.quote(message))}}"
    }
}

/// Small JSON rendering helpers for the server's own documents.
enum JSONText {
    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                out += "\\u" + String(c.value, radix: 16).leftPadded(to: 4)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension HTTPResponse.Status {
    /// 507 Insufficient Storage (RFC 4918 §11.5), which swift-http-types does not name: a
    /// write refused because its bucket is at its stored-bytes limit.
    static var insufficientStorage: Self { .init(code: 507, reasonPhrase: "Insufficient Storage") }
}
