@testable import Server
import Testing

/// The live-read cursor (protocol §11) with hostile client cursors (issue 13, finding 1).
@Suite struct CursorTests {
    static let now: Int64 = Cursor.epochMilliseconds + 1_000 * Cursor.intervalMilliseconds

    @Test(arguments: [
        (nil, 1, "1000"),                                  // no cursor: the current interval
        ("999", 1, "1000"),                                // an older cursor: the current interval
        ("abc", 1, "1000"),                                // not a number: ignored
        ("-5", 1, "1000"),
        ("1000", 7, "1007"),                               // at the current interval: jittered ahead
        ("1100", 1, "1101"),                               // one we could have issued: strictly greater
        ("9223372036854775807", 1, "1181"),                // Int64.max: clamped, no trap
        ("9223372036854775807", 180, "1360"),
        ("99999999999999999999999", 1, "1000"),            // does not parse as Int64: ignored
    ] as [(String?, Int64, String)])
    func next(client: String?, jitter: Int64, expected: String) {
        #expect(Cursor.next(now: Self.now, clientCursor: client, jitter: jitter) == expected)
    }

    @Test func extremeClocksDoNotTrap() {
        #expect(Cursor.next(now: .min, clientCursor: "9223372036854775807", jitter: 1) == "181")
        #expect(Int64(Cursor.next(now: .max, clientCursor: "9223372036854775807", jitter: 180))! > 0)
    }
}
