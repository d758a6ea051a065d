/// The address of a stream in the model: a bucket and a stream name inside it (api.md §1).
/// Every route family maps onto this pair.
///
/// Identity is bytes (api.md §1, style.md "Robustness"): two paths are equal, hash alike and
/// sort by their UTF-8 bytes, never by Swift `String` equality, which folds canonically
/// equivalent spellings (`café` in NFC and NFD) into one. RocksDB keys, listings and the
/// in-memory maps therefore agree on what one name is.
public struct StreamPath: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var bucket: String
    public var name: String

    public init(bucket: String, name: String) {
        self.bucket = bucket
        self.name = name
    }

    public static func == (a: StreamPath, b: StreamPath) -> Bool {
        a.bucket.utf8.elementsEqual(b.bucket.utf8) && a.name.utf8.elementsEqual(b.name.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        Bytewise.hash(bucket, into: &hasher)
        Bytewise.hash(name, into: &hasher)
    }

    /// Bucket bytes, then name bytes: the order of the stream rows' RocksDB keys
    /// (`bucket ‖ 0x00 ‖ name`, and bucket names never hold `0x00`).
    public static func < (a: StreamPath, b: StreamPath) -> Bool {
        if !a.bucket.utf8.elementsEqual(b.bucket.utf8) {
            return a.bucket.utf8.lexicographicallyPrecedes(b.bucket.utf8)
        }
        return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
    }

    public var description: String { bucket + "/" + name }
}

/// Comparison and hashing of strings by their UTF-8 bytes, for every name that is an
/// identity (stream paths, producer ids).
public enum Bytewise {
    /// Hashes the UTF-8 bytes of `string` and its length (so concatenations stay distinct).
    public static func hash(_ string: String, into hasher: inout Hasher) {
        let utf8 = string.utf8
        hasher.combine(utf8.count)
        if utf8.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
            for byte in utf8 { hasher.combine(byte) }
        }
    }

    public static func equal(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    public static func less(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
}

/// Naming rules for buckets and streams (api.md §1).
public enum Identifiers {
    /// The bucket that always exists and backs `/streams/{id}` and single-segment `/v1/stream/` paths.
    public static let defaultBucket = "_default"
    public static let maxStreamNameBytes = 255
    public static let maxBucketNameBytes = 64
    /// The longest `Producer-Id`, in UTF-8 bytes. Producer state is kept per stream for every
    /// producer (protocol §4.1), so an id's size is memory and disk held on the server.
    public static let maxProducerIDBytes = 256

    /// 1 to `maxProducerIDBytes` bytes (the value is already valid UTF-8: it is a `String`).
    public static func isValidProducerID(_ id: String) -> Bool {
        let count = id.utf8.count
        return count > 0 && count <= maxProducerIDBytes
    }

    /// `^[a-z0-9_-]{1,64}$`.
    public static func isValidBucket(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= maxBucketNameBytes else { return false }
        return utf8.allSatisfy(isBucketByte)
    }

    /// `[a-z0-9_-]`: the bytes of a bucket name.
    public static func isBucketByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    /// 1–255 bytes of UTF-8, no NUL, no `..` segment, no empty segment; `/` only when
    /// `allowSlash` (stream names after the bucket on `/v1/stream/`).
    public static func isValidStreamName(_ name: String, allowSlash: Bool) -> Bool {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= maxStreamNameBytes else { return false }
        // One pass over the bytes, no allocation (every append is checked twice: at the edge
        // and in apply): each `/`-separated segment must be non-empty and not `.` or `..`.
        var segmentLength = 0
        var segmentDots = 0
        for byte in utf8 {
            switch byte {
            case 0:
                return false
            case UInt8(ascii: "/"):
                guard allowSlash, segmentLength > 0, segmentDots != segmentLength || segmentLength > 2 else { return false }
                segmentLength = 0
                segmentDots = 0
            case UInt8(ascii: "."):
                segmentLength += 1
                segmentDots += 1
            default:
                segmentLength += 1
            }
        }
        return segmentLength > 0 && (segmentDots != segmentLength || segmentLength > 2)
    }
}

/// Media-type comparison of the protocol (§2.1): case-insensitive, parameters ignored.
public enum MediaType {
    /// `application/json; charset=utf-8` → `application/json`.
    public static func essence(_ contentType: String) -> String {
        // Fast path for the common case (every append compares media types): already an
        // essence — no parameters, no blanks, no upper case.
        if contentType.utf8.allSatisfy({ $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) {
            return contentType
        }
        let base = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return base.trimmingSpaces().lowercased()
    }

    public static func matches(_ a: String, _ b: String) -> Bool { a == b || essence(a) == essence(b) }

    /// JSON mode (§9): the media type `application/json`.
    public static func isJSON(_ contentType: String) -> Bool { essence(contentType) == "application/json" }

    /// Whether SSE sends data natively (`text/*`, `application/json`) rather than base64 (§8.4).
    public static func isTextual(_ contentType: String) -> Bool {
        let e = essence(contentType)
        return e.hasPrefix("text/") || e == "application/json"
    }

    public static let octetStream = "application/octet-stream"
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
