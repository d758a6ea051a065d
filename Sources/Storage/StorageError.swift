import BinaryCodec
import RocksDB

/// A failure of the storage layer: the disk, RocksDB, or damaged data. These are not client
/// errors; the HTTP layer answers them with 5xx, and a node that cannot persist stops.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable {
            case io, corruption, invalidArgument, unavailable, dropped
        }
        fileprivate let value: Value
        public var description: String { value.rawValue }
        /// RocksDB or the file system failed.
        public static let io = Code(value: .io)
        /// Stored bytes do not decode.
        public static let corruption = Code(value: .corruption)
        /// The caller asked for something inconsistent, such as a snapshot whose metadata
        /// names another index than the state it is written from.
        public static let invalidArgument = Code(value: .invalidArgument)
        /// The state cannot be read right now (a snapshot is being installed): retry.
        public static let unavailable = Code(value: .unavailable)
        /// The data asked for was dropped by retention while the read ran (the client's 410).
        public static let dropped = Code(value: .dropped)
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public init(_ error: RocksDBError) {
        self.init(error.code == .corruption ? .corruption : .io, error.message, underlying: error)
    }

    public init(_ error: BinaryDecodingError, _ context: String) {
        self.init(.corruption, "\(context): \(error)", underlying: error)
    }

    public var description: String {
        "StorageError(\(code)): \(message)" + (underlying.map { " (\($0))" } ?? "")
    }
}
