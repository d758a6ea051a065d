/// A position in a stream (protocol §8.1): opaque to clients, sortable, strictly increasing.
///
/// Runnel mints offsets of the form `%016d_%016d`: a reserved epoch (always 0 today; kept so
/// that a future storage layout can move every offset past the old ones) and the position of
/// the stream in stored bytes. `-1` and `now` are sentinels the server never mints.
public struct Offset: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var epoch: UInt64
    public var position: UInt64

    public init(epoch: UInt64 = 0, position: UInt64) {
        self.epoch = epoch
        self.position = position
    }

    /// The tail of an empty stream: `0000000000000000_0000000000000000`.
    public static let zero = Offset(position: 0)

    /// The largest position the model mints (16 decimal digits), so every minted offset has
    /// the fixed width that makes offsets sort as strings (protocol §8.1).
    public static let maxPosition: UInt64 = 9_999_999_999_999_999

    public static func < (a: Offset, b: Offset) -> Bool {
        (a.epoch, a.position) < (b.epoch, b.position)
    }

    public var description: String { Self.pad(epoch) + "_" + Self.pad(position) }

    private static func pad(_ value: UInt64) -> String {
        let digits = String(value)
        return digits.count >= 16 ? digits : String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// Parses a minted offset (`\d+_\d+`); `nil` for anything else, including numbers that
    /// do not fit 64 bits.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard let underscore = utf8.firstIndex(of: UInt8(ascii: "_")),
              let epoch = Self.parseDigits(utf8[..<underscore]),
              let position = Self.parseDigits(utf8[(underscore + 1)...])
        else { return nil }
        self.init(epoch: epoch, position: position)
    }

    static func parseDigits(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        guard !bytes.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
    }
}

/// The `offset` query parameter of a read (protocol §2.3, §8.1).
public enum ReadOffset: Hashable, Sendable {
    /// `-1`: the start of the stream.
    case start
    /// `now`: the current tail.
    case now
    case at(Offset)

    /// Strict parse of `^(-1|now|\d+_\d+)$`; anything else is `nil` (a 400).
    public init?(_ text: some StringProtocol) {
        switch text {
        case "-1": self = .start
        case "now": self = .now
        default:
            guard let offset = Offset(text) else { return nil }
            self = .at(offset)
        }
    }
}

/// Parses a non-negative decimal with no sign, no leading zeros, no fraction or exponent
/// (`^(0|[1-9]\d*)$`), as `Stream-TTL` and `Stream-Fork-Sub-Offset` require. `maximum`
/// bounds the value (producer epochs and sequences stop at 2^53−1).
public func parseCanonicalUInt(_ text: some StringProtocol, maximum: UInt64 = .max) -> UInt64? {
    let bytes = Array(text.utf8)
    guard let first = bytes.first else { return nil }
    if first == UInt8(ascii: "0") && bytes.count > 1 { return nil }
    guard let value = Offset.parseDigits(bytes[...]), value <= maximum else { return nil }
    return value
}

/// Parses a decimal of digits only (leading zeros allowed) up to `maximum`, as the producer
/// headers require (`Producer-Epoch`, `Producer-Seq`: 0 ≤ n ≤ 2^53−1).
public func parseDigitsUInt(_ text: some StringProtocol, maximum: UInt64 = .max) -> UInt64? {
    guard let value = Offset.parseDigits(Array(text.utf8)[...]), value <= maximum else { return nil }
    return value
}
