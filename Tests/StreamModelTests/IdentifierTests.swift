import Testing
@testable import StreamModel

/// Naming rules (api.md §1) and media-type comparison (protocol §2.1, §9).
@Suite struct IdentifierTests {
    @Test(arguments: [
        ("_default", true),
        ("a", true),
        ("orders-2024_eu", true),
        ("0", true),
        (String(repeating: "z", count: 64), true),
        (String(repeating: "z", count: 65), false),
        ("", false),
        ("Orders", false),
        ("a.b", false),
        ("a/b", false),
        ("a b", false),
        ("é", false),
        ("a\0", false),
    ])
    func bucketName(_ name: String, _ valid: Bool) {
        #expect(Identifiers.isValidBucket(name) == valid)
    }

    @Test(arguments: [
        ("orders", false, true),
        ("a", false, true),
        ("Mixed.Case-é😀 ok", false, true),
        ("a..b", false, true),
        ("...", false, true),
        (String(repeating: "x", count: 255), false, true),
        (String(repeating: "x", count: 256), false, false),
        (String(repeating: "é", count: 127) + "x", false, true),   // 255 bytes
        (String(repeating: "é", count: 128), false, false),        // 256 bytes
        ("", false, false),
        ("", true, false),
        ("a\0b", false, false),
        ("\0", true, false),
        ("..", false, false),
        (".", false, false),
        ("a/b", false, false),
        ("a/b", true, true),
        ("a/b/c", true, true),
        ("a/../b", true, false),
        ("../a", true, false),
        ("a/..", true, false),
        ("a/./b", true, false),
        ("a//b", true, false),
        ("/a", true, false),
        ("a/", true, false),
        ("a/..b/c..", true, true),
    ])
    func streamName(_ name: String, _ allowSlash: Bool, _ valid: Bool) {
        #expect(Identifiers.isValidStreamName(name, allowSlash: allowSlash) == valid)
    }

    @Test(arguments: [
        ("application/json", "application/json", true),
        ("application/json", "APPLICATION/JSON", true),
        ("application/json; charset=utf-8", "application/json", true),
        ("application/json;charset=utf-8", "Application/Json ; q=1", true),
        (" text/plain ", "text/plain", true),
        ("text/plain", "text/html", false),
        ("application/json", "application/json-seq", false),
        ("application/json", "application/ld+json", false),
    ])
    func mediaTypeMatching(_ a: String, _ b: String, _ same: Bool) {
        #expect(MediaType.matches(a, b) == same)
        #expect(MediaType.matches(b, a) == same)
    }

    @Test func jsonAndTextualModes() {
        #expect(MediaType.isJSON("application/json"))
        #expect(MediaType.isJSON("Application/JSON; charset=utf-8"))
        #expect(!MediaType.isJSON("application/ndjson"))
        #expect(!MediaType.isJSON("text/json"))
        #expect(MediaType.isTextual("text/plain"))
        #expect(MediaType.isTextual("TEXT/CSV"))
        #expect(MediaType.isTextual("application/json; charset=utf-8"))
        #expect(!MediaType.isTextual("application/octet-stream"))
        #expect(!MediaType.isTextual("image/png"))
        #expect(MediaType.essence("Text/Plain; charset=UTF-8") == "text/plain")
    }

    @Test func streamPathOrderAndDescription() {
        #expect(path("b", bucket: "a") < path("a", bucket: "b"))
        #expect(path("a") < path("b"))
        #expect(path("x/y", bucket: "v1").description == "v1/x/y")
    }

    @Test func errorCodesRoundTrip() {
        let codes: [ModelError.Code] = [
            .bucketNotFound, .bucketNotEmpty, .invalidBucket, .streamNotFound, .streamGone, .streamClosed,
            .configMismatch, .contentTypeMismatch, .streamSeqConflict, .producerStaleEpoch, .producerSeqGap,
            .producerEpochSeq, .emptyBody, .emptyJSONArray, .invalidJSON, .forkSourceNotFound, .forkSourceGone,
            .forkSourceChanged, .forkOffsetInvalid, .forkSubOffsetInvalid, .preconditionFailed, .offsetGone,
            .snapshotNotFound, .snapshotConflict,
        ]
        #expect(Set(codes.map(\.rawValue)).count == codes.count)
        for code in codes {
            #expect(ModelError.Code(rawValue: code.rawValue) == code)
            #expect(code.description == code.rawValue)
        }
        #expect(ModelError.Code(rawValue: "no_such_code") == nil)
    }
}
