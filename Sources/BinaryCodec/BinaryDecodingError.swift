/// Why bytes could not be decoded, and where: the one decoding error of every Runnel binary
/// format (Raft messages, log entries, commands, metadata rows, peer frames).
///
/// Named so it does not shadow `Swift.DecodingError`. Decoders throw it instead of trapping:
/// the bytes come from peers and from disk and are hostile until validated (style.md
/// "Robustness").
public struct BinaryDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong; a struct over a private enum so codes can be added without breaking
    /// exhaustive switches.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable {
            case truncated, invalidValue, unknownTag, unknownVersion, trailingBytes
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The input ended inside a value, or a length or count asks for more bytes than are left.
        public static let truncated = Code(.truncated)
        /// A value is out of its range: a bool other than 0 or 1, invalid UTF-8, an overlong varint.
        public static let invalidValue = Code(.invalidValue)
        /// A tag byte names no known case (message type, command, entry kind, …).
        public static let unknownTag = Code(.unknownTag)
        /// A version byte names a format this build does not know.
        public static let unknownVersion = Code(.unknownVersion)
        /// Bytes were left after a complete value.
        public static let trailingBytes = Code(.trailingBytes)

        public var description: String { "\(base)" }
    }

    /// What went wrong.
    public var code: Code
    /// The byte offset (from the start of the decoded buffer) of the value that could not be
    /// decoded; for `.trailingBytes`, of the first byte left over.
    public var offset: Int
    /// What was being decoded, for logs; empty when the code says it all.
    public var message: String

    /// An error of `code` at byte `offset`.
    public init(_ code: Code, offset: Int, _ message: String = "") {
        self.code = code
        self.offset = offset
        self.message = message
    }

    public var description: String {
        message.isEmpty ? "\(code) at byte \(offset)" : "\(code) at byte \(offset): \(message)"
    }
}
