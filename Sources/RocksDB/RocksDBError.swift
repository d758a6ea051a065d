/// An error reported by RocksDB, keeping the status code that RocksDB's C API encodes as
/// the leading words of its error string (`"IO error: …"`, `"Corruption: …"`).
public struct RocksDBError: Error, Sendable, CustomStringConvertible {
    /// The RocksDB `Status::Code` of the failure. A struct over a private enum so that new
    /// codes can be added without breaking callers that switch over the known ones.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable {
            case notFound = "NotFound"
            case corruption = "Corruption"
            case notSupported = "Not implemented"
            case invalidArgument = "Invalid argument"
            case ioError = "IO error"
            case mergeInProgress = "Merge in progress"
            case incomplete = "Result incomplete"
            case shutdownInProgress = "Shutdown in progress"
            case timedOut = "Operation timed out"
            case aborted = "Operation aborted"
            case busy = "Resource busy"
            case expired = "Operation expired"
            case tryAgain = "Operation failed. Try again."
            case compactionTooLarge = "Compaction too large"
            case columnFamilyDropped = "Column family dropped"
            // Raised by the wrapper itself rather than by RocksDB.
            case closed = "Database closed"
            case unknown = "Unknown"
        }
        fileprivate let value: Value

        public static let notFound = Code(value: .notFound)
        public static let corruption = Code(value: .corruption)
        public static let notSupported = Code(value: .notSupported)
        public static let invalidArgument = Code(value: .invalidArgument)
        public static let ioError = Code(value: .ioError)
        public static let incomplete = Code(value: .incomplete)
        public static let shutdownInProgress = Code(value: .shutdownInProgress)
        public static let timedOut = Code(value: .timedOut)
        public static let aborted = Code(value: .aborted)
        public static let busy = Code(value: .busy)
        public static let tryAgain = Code(value: .tryAgain)
        public static let columnFamilyDropped = Code(value: .columnFamilyDropped)
        /// The wrapper refused the call because the database was closed or still has open
        /// iterators or snapshots at close.
        public static let closed = Code(value: .closed)
        public static let unknown = Code(value: .unknown)

        public var description: String { value.rawValue }

        /// Recovers the status code from the message RocksDB produced with `Status::ToString()`.
        static func parse(_ message: String) -> Code {
            // Longest prefixes first so "Operation failed. Try again." is not read as something shorter.
            let all: [Value] = [
                .tryAgain, .notFound, .corruption, .notSupported, .invalidArgument, .ioError,
                .mergeInProgress, .incomplete, .shutdownInProgress, .timedOut, .aborted, .busy,
                .expired, .compactionTooLarge, .columnFamilyDropped,
            ]
            for value in all where message.hasPrefix(value.rawValue) {
                return Code(value: value)
            }
            return Code(value: .unknown)
        }
    }

    public let code: Code
    /// RocksDB's own message, unchanged.
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    init(rocksMessage: String) {
        self.init(code: .parse(rocksMessage), message: rocksMessage)
    }

    public var description: String { "RocksDBError(\(code)): \(message)" }
}
