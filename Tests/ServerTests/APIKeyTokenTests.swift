import Testing
@testable import Server

/// The API key token form: minted tokens parse back to their id and secret; anything else is
/// not a key.
@Suite struct APIKeyTokenTests {
    @Test func mintedTokensParseBack() throws {
        for _ in 0..<200 {
            let minted = APIKeyToken.mint()
            let parsed = try #require(APIKeyToken.parse(Substring(minted.token)))
            #expect(parsed.id == minted.id && parsed.secret == minted.secret)
        }
    }

    @Test func base64URLRoundTripsEveryLength() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = APIKeyToken.base64URL(bytes)
            #expect(APIKeyToken.decodeBase64URL(Array(text.utf8)[...]) == bytes, "length \(length)")
        }
    }

    @Test func otherFormsAreNotKeys() {
        let good = APIKeyToken.mint().token
        for token in ["", "rnl_", good + "A", String(good.dropLast()), good.replacingOccurrences(of: "rnl_", with: "rnk_"),
                      String(good.prefix(43)) + "=" + String(good.dropFirst(44)), String(good.prefix(30)) + "+" + String(good.dropFirst(31)),
                      "rnl_0123456789ABCDEF_" + String(repeating: "A", count: 43)] {
            #expect(APIKeyToken.parse(Substring(token)) == nil, "\(token)")
        }
        #expect(APIKeyToken.decodeBase64URL(Array("A".utf8)[...]) == nil)
        #expect(APIKeyToken.decodeBase64URL(Array("AB=C".utf8)[...]) == nil)
    }

    @Test func bearerTokensAreFoundWhateverTheSchemeCase() {
        #expect(RunnelResponder.bearerToken("Bearer abc") == "abc")
        #expect(RunnelResponder.bearerToken("bEaReR   abc") == "abc")
        for value in ["Bearer", "Bearer ", "Bearer    ", "Basic abc", "Bearerabc", "Bearer\tabc", "Bearer\u{0}abc", "Bearex abc"] {
            #expect(RunnelResponder.bearerToken(value) == nil, "\(value)")
        }
    }
}
