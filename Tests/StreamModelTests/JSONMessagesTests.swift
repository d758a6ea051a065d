import Testing
@testable import StreamModel

/// JSON mode (protocol §9): strict validation and one-level flattening.
@Suite struct JSONMessagesTests {
    /// The flattening table of §9 and its edges: body → the stored messages' texts.
    static let flattening: [(String, [String])] = [
        (#"{"e":1}"#, [#"{"e":1}"#]),
        (#"{"e":"created"}"#, [#"{"e":"created"}"#]),
        (#"[{},{}]"#, ["{}", "{}"]),
        (#"[{"e":"a"},{"e":"b"}]"#, [#"{"e":"a"}"#, #"{"e":"b"}"#]),
        ("[[1,2],[3,4]]", ["[1,2]", "[3,4]"]),
        ("[[[1,2,3]]]", ["[[1,2,3]]"]),
        ("[]", []),
        ("[ ]", []),
        (" \n[ 1 , \"two\" ,\tnull ]\r\n", ["1", "\"two\"", "null"]),
        ("[[]]", ["[]"]),
        ("1", ["1"]),
        ("\"text\"", ["\"text\""]),
        ("  true  ", ["true"]),
        ("null", ["null"]),
        ("-0.5e+10", ["-0.5e+10"]),
        ("[1,[2,[3]],{\"a\":[4]}]", ["1", "[2,[3]]", "{\"a\":[4]}"]),
        (#"["\u00e9\n\"\\\/"]"#, [#""\u00e9\n\"\\\/""#]),
        (#"["\ud83d\ude00"]"#, [#""\ud83d\ude00""#]),
        ("[\"é😀\"]", ["\"é😀\""]),
        ("{\"\":{}}", ["{\"\":{}}"]),
        ("[\"\u{7F}\"]", ["\"\u{7F}\""]),
    ]

    @Test(arguments: flattening)
    func flatten(_ body: String, _ expected: [String]) throws {
        let messages = try JSONMessages.flatten(utf8(body))
        #expect(messages.messages == expected.map(utf8))
        #expect(JSONMessages.isValid(utf8(body)))
    }

    /// Bodies that must be refused with `invalidJSON`, as raw bytes.
    static let invalid: [(String, [UInt8])] = [
        ("empty", []),
        ("whitespace only", utf8("  \n")),
        ("trailing garbage", utf8("{} x")),
        ("two values", utf8("1 2")),
        ("array then garbage", utf8("[1]]")),
        ("unterminated array", utf8("[1,2")),
        ("unterminated object", utf8("{\"a\":1")),
        ("trailing comma in array", utf8("[1,]")),
        ("trailing comma in object", utf8("{\"a\":1,}")),
        ("leading comma", utf8("[,1]")),
        ("missing comma", utf8("[1 2]")),
        ("non-string key", utf8("{a:1}")),
        ("missing colon", utf8("{\"a\" 1}")),
        ("single quotes", utf8("['a']")),
        ("unterminated string", utf8("\"abc")),
        ("bad escape \\x", utf8(#""\x41""#)),
        ("bad escape \\u short", utf8(#""\u12""#)),
        ("bad escape \\u non-hex", utf8(#""\u12G4""#)),
        ("escape at the end", utf8("\"\\")),
        ("raw newline in a string", utf8("\"a\nb\"")),
        ("raw tab in a string", utf8("\"a\tb\"")),
        ("raw NUL in a string", [0x22, 0x00, 0x22]),
        ("invalid UTF-8 byte FF", [0x22, 0xFF, 0x22]),
        ("lone continuation byte", [0x22, 0x80, 0x22]),
        ("truncated 2-byte sequence", [0x22, 0xC3, 0x22]),
        ("truncated at the end", [0x22, 0xE2, 0x82]),
        ("overlong 2-byte (C0 AF)", [0x22, 0xC0, 0xAF, 0x22]),
        ("overlong 3-byte (E0 80 AF)", [0x22, 0xE0, 0x80, 0xAF, 0x22]),
        ("overlong 4-byte (F0 80 80 AF)", [0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22]),
        ("UTF-8 encoded lone high surrogate (ED A0 80)", [0x22, 0xED, 0xA0, 0x80, 0x22]),
        ("UTF-8 encoded lone low surrogate (ED B0 80)", [0x22, 0xED, 0xB0, 0x80, 0x22]),
        ("beyond U+10FFFF (F4 90 80 80)", [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]),
        ("F5 lead byte", [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22]),
        ("UTF-8 outside a string", [0xC3, 0xA9]),
        ("byte order mark", [0xEF, 0xBB, 0xBF] + utf8("1")),
        ("number 01", utf8("01")),
        ("number 01 in an array", utf8("[01]")),
        ("number -01", utf8("-01")),
        ("number 1.", utf8("1.")),
        ("number .5", utf8(".5")),
        ("number -", utf8("-")),
        ("number 1e", utf8("1e")),
        ("number 1e+", utf8("1e+")),
        ("number +1", utf8("+1")),
        ("number 0x10", utf8("0x10")),
        ("NaN", utf8("NaN")),
        ("Infinity", utf8("Infinity")),
        ("truncated literal tru", utf8("tru")),
        ("misspelled literal", utf8("nul1")),
        ("capitalised literal", utf8("True")),
        ("comment", utf8("[1 /* c */]")),
        ("nesting beyond maxDepth (arrays)",
         utf8(String(repeating: "[", count: JSONMessages.maxDepth + 1) + "1"
              + String(repeating: "]", count: JSONMessages.maxDepth + 1))),
        ("nesting beyond maxDepth (objects)",
         utf8(String(repeating: "{\"a\":", count: JSONMessages.maxDepth + 1) + "1"
              + String(repeating: "}", count: JSONMessages.maxDepth + 1))),
        ("very deep nesting", utf8(String(repeating: "[", count: 100_000))),
    ]

    @Test(arguments: invalid)
    func rejects(_ name: String, _ body: [UInt8]) {
        #expect(throws: ModelError.self, "\(name)") { try JSONMessages.flatten(body) }
        do {
            _ = try JSONMessages.flatten(body)
        } catch {
            #expect(error.code == .invalidJSON, "\(name)")
        }
        #expect(!JSONMessages.isValid(body), "\(name)")
    }

    @Test func nestingAtMaxDepthIsAccepted() throws {
        let depth = JSONMessages.maxDepth
        let arrays = String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth)
        let messages = try JSONMessages.flatten(utf8(arrays))
        #expect(messages.count == 1)
        #expect(JSONMessages.isValid(utf8(arrays)))
        let objects = String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(try JSONMessages.flatten(utf8(objects)).count == 1)
    }

    /// RFC 8259 §8.2: an escaped lone surrogate is grammatical (JavaScript's `JSON.parse`, which
    /// the reference server uses, accepts it), unlike a surrogate encoded in UTF-8.
    @Test func escapedLoneSurrogateFollowsTheGrammar() throws {
        #expect(try JSONMessages.flatten(utf8(#"["\ud800"]"#)) == [utf8(#""\ud800""#)])
    }

    @Test func flattenedMessagesRoundTripThroughStoredUnits() throws {
        let body = utf8(#"[{"a":1}, [2], "three"]"#)
        let messages = try JSONMessages.flatten(body)
        let unit = StoredUnit.encode(.json(messages))
        let decoded = unit.withUnsafeBytes { raw in
            StoredUnit.jsonMessages(raw)?.map { Array(raw[$0.body]) }
        }
        #expect(decoded == messages.messages)
    }
}
