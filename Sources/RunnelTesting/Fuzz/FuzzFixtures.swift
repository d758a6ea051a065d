/// Streams the fuzzer starts from: the fuzz buckets, and byte and JSON streams in them under
/// the names the generator draws most, so that hostile requests meet existing streams (live
/// waits, appends with matching types) and not only 404s. Fuzz cases may change or delete
/// them; unlike the canaries, nothing is asserted about them afterwards.
public enum FuzzFixtures {
    /// Buckets created up front (`nobkt` stays missing on purpose).
    static let buckets = ["fz", "fz-b", "z9"]
    /// Byte streams and JSON streams, by name.
    public static let byteStreams = ["f0", "f1", "f2", "f3"]
    public static let jsonStreams = ["j0", "j1"]

    /// A path of an existing fixture in one of the three families.
    static func path(_ name: String, _ random: inout FuzzRandom) -> String {
        random.pick(["/ds/_default/\(name)", "/streams/\(name)", "/v1/stream/\(name)", "/ds/fz/\(name)", "/v1/stream/fz/\(name)"])
    }

    /// Creates the buckets and streams.
    public static func plant(_ client: HTTPTestClient) async throws {
        for bucket in buckets { _ = try await client.request("PUT", "/ds/\(bucket)", timeout: .seconds(10)) }
        for bucket in ["_default", "fz"] {
            for name in byteStreams {
                _ = try await client.request("PUT", "/ds/\(bucket)/\(name)", headers: [("Content-Type", "application/octet-stream")],
                                             body: [1, 2, 3], timeout: .seconds(10))
            }
            for name in jsonStreams {
                _ = try await client.request("PUT", "/ds/\(bucket)/\(name)", headers: [("Content-Type", "application/json")],
                                             body: Array("[1,2]".utf8), timeout: .seconds(10))
            }
        }
    }
}
