import Foundation
import Testing

/// Conformance §4.21 JSON Mode. The suite's client wraps each appended value once
/// (`append(s)` sends `[s]`), so these tests pin one-level flattening.
@Suite("JSON Mode", .conformance)
struct JSONModeTests {
    /// The client's `append(value)` on a JSON stream: the value wrapped in one array.
    private func append(_ ds: DS, _ p: String, _ value: String) async throws {
        let r = try await ds.post(p, ct: js, body: "[\(value)]")
        #expect(r.status == 204, "append \(value): \(r.status) \(r.text)")
    }

    private func created(_ ds: DS) async throws -> String {
        let p = ds.stream()
        #expect(try await ds.put(p, ct: js).status == 201)
        return p
    }

    // §4.21 line 4310
    @Test("should allow PUT with empty array body (creates empty stream)", arguments: Family.allCases)
    func putEmptyArray(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        #expect(try await ds.put(p, ct: js, body: "[]").status == 201)
        let r = try await ds.get(p)
        #expect(r.text == "[]")
        #expect(r.upToDate)
    }

    // §4.21 line 4329
    @Test("should reject POST with empty array body", arguments: Family.allCases)
    func postEmptyArray(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        #expect(try await ds.post(p, ct: js, body: "[]").status == 400)
    }

    // §4.21 line 4348
    @Test("should handle content-type with charset parameter", arguments: Family.allCases)
    func charsetParameter(_ f: Family) async throws {
        let ds = DS(f), p = ds.stream()
        let ct = "application/json; charset=utf-8"
        #expect(try await ds.put(p, ct: ct).status == 201)
        #expect(try await ds.post(p, ct: ct, body: #"{"message":"hello"}"#).status == 204)
        #expect(jsonEqual(try await ds.get(p).json, #"[{"message":"hello"}]"#))
    }

    // §4.21 line 4372
    @Test("should wrap single JSON value in array", arguments: Family.allCases)
    func wrapSingleValue(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        try await append(ds, p, #"{"message":"hello"}"#)
        #expect(jsonEqual(try await ds.get(p).json, #"[{"message":"hello"}]"#))
    }

    // §4.21 line 4389
    @Test("should store arrays as single messages", arguments: Family.allCases)
    func arraysAsSingleMessages(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        try await append(ds, p, #"[{"id":1},{"id":2},{"id":3}]"#)
        #expect(jsonEqual(try await ds.get(p).json, #"[[{"id":1},{"id":2},{"id":3}]]"#))
    }

    // §4.21 line 4407
    @Test("should concatenate multiple appends into single array", arguments: Family.allCases)
    func concatenateAppends(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        for v in [#"{"order":"first"}"#, #"{"order":"second"}"#, #"{"order":"third"}"#] { try await append(ds, p, v) }
        #expect(jsonEqual(try await ds.get(p).json, #"[{"order":"first"},{"order":"second"},{"order":"third"}]"#))
    }

    // §4.21 line 4430
    @Test("should handle mixed single values and arrays", arguments: Family.allCases)
    func mixedValuesAndArrays(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        for v in [#"{"type":"single"}"#, #"[{"type":"array1"},{"type":"array2"}]"#, #"{"type":"single2"}"#] { try await append(ds, p, v) }
        #expect(jsonEqual(try await ds.get(p).json,
                          #"[{"type":"single"},[{"type":"array1"},{"type":"array2"}],{"type":"single2"}]"#))
    }

    // §4.21 line 4461
    @Test("should reject invalid JSON with 400", arguments: Family.allCases)
    func rejectInvalidJSON(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        #expect(try await ds.post(p, ct: js, body: "{ invalid json }").status == 400)
    }

    // §4.21 line 4480
    @Test("should handle various JSON value types", arguments: Family.allCases)
    func variousValueTypes(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        let values = [#""string value""#, "42", "true", "null", #"{"key":"value"}"#, "[1,2,3]"]
        for v in values { try await append(ds, p, v) }
        #expect(jsonEqual(try await ds.get(p).json, "[\(values.joined(separator: ","))]"))
    }

    // §4.21 line 4508
    @Test("should preserve JSON structure and nesting", arguments: Family.allCases)
    func preserveNesting(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        let nested = #"{"user":{"id":123,"name":"Test User","tags":["a","b","c"]},"nested":{"deep":{"value":true,"list":[{"x":1},{"y":[2,3]}]}},"empty":{},"none":null}"#
        try await append(ds, p, nested)
        #expect(jsonEqual(try await ds.get(p).json, "[\(nested)]"))
    }

    // §4.21 line 4542
    @Test("should work with client json() iterator", arguments: Family.allCases)
    func jsonIterator(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        for i in 1...3 { try await append(ds, p, #"{"id":\#(i)}"#) }
        let items = try #require(try JSONSerialization.jsonObject(with: Data(try await ds.readAll(p))) as? [[String: Any]])
        #expect(items.map { $0["id"] as? Int } == [1, 2, 3])
    }

    // §4.21 line 4561
    @Test("should reject empty JSON arrays with 400", arguments: Family.allCases)
    func rejectEmptyArrays(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        #expect(try await ds.post(p, ct: js, body: "[]").status == 400)
    }

    // §4.21 line 4580
    @Test("should store nested arrays as single messages", arguments: Family.allCases)
    func nestedArrays(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        try await append(ds, p, "[[1,2],[3,4]]")
        #expect(jsonEqual(try await ds.get(p).json, "[[[1,2],[3,4]]]"))
    }

    // §4.21 line 4608
    @Test("should store arrays as values when double-wrapped", arguments: Family.allCases)
    func doubleWrapped(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        try await append(ds, p, "[[1,2,3]]")
        let r = try await ds.get(p)
        #expect(jsonEqual(r.json, "[[[1,2,3]]]"))
        #expect((r.json as? [Any])?.count == 1)
    }

    // §4.21 line 4627
    @Test("should store primitive arrays as single messages", arguments: Family.allCases)
    func primitiveArrays(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        try await append(ds, p, "[1,2,3]")
        try await append(ds, p, #"["a","b","c"]"#)
        #expect(jsonEqual(try await ds.get(p).json, #"[[1,2,3],["a","b","c"]]"#))
    }

    // §4.21 line 4649
    @Test("should handle mixed batching - single values, arrays, and nested arrays", arguments: Family.allCases)
    func mixedBatching(_ f: Family) async throws {
        let ds = DS(f), p = try await created(DS(f))
        let values = [#"{"single":1}"#, "[1,2]", "[[3,4],[5,6]]", #""text""#]
        for v in values { try await append(ds, p, v) }
        let r = try await ds.get(p)
        #expect(jsonEqual(r.json, "[\(values.joined(separator: ","))]"))
        #expect((r.json as? [Any])?.count == 4)
    }
}
