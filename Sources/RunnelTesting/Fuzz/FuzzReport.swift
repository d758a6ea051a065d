/// The findings of a run, and a summary that groups them by kind so a report lists each bug
/// once, with the seed, case and exact bytes of its first occurrence for replay.
public struct FuzzReport: Sendable {
    public var findings: [FuzzFinding] = []
    public var cases = 0
    public var elapsed: Duration = .zero
    /// The slowest case and its time, to keep the budget honest.
    public var slowest: (label: String, elapsed: Duration)?

    public init() {}

    /// Findings the verdict counts (those not of an ignored kind).
    public func counted(ignoring ignored: Set<FuzzFinding.Kind>) -> [FuzzFinding] {
        findings.filter { !ignored.contains($0.kind) }
    }

    /// One paragraph per distinct finding key: count, first occurrence, replay bytes.
    public func summary(ignoring ignored: Set<FuzzFinding.Kind> = []) -> String {
        var groups: [(key: String, findings: [FuzzFinding])] = []
        for finding in counted(ignoring: ignored) {
            if let i = groups.firstIndex(where: { $0.key == finding.key }) { groups[i].findings.append(finding) }
            else { groups.append((finding.key, [finding])) }
        }
        var out = "fuzz: \(cases) cases in \(elapsed), \(groups.count) distinct findings (\(counted(ignoring: ignored).count) in all)"
        if let slowest { out += "; slowest case \(slowest.elapsed): \(slowest.label)" }
        out += "\n"
        for (key, findings) in groups {
            let first = findings[0]
            out += "\n== [\(key)] ×\(findings.count): \(first.detail)\n"
            if let fuzzCase = first.fuzzCase {
                out += "   \(fuzzCase.label)\n"
                if let rejection = fuzzCase.mustReject { out += "   must be refused: \(rejection.reason)\n" }
                out += "   replay: make fuzz SEED=\(fuzzCase.seed) CASE=\(fuzzCase.index) TRANSPORT=\(fuzzCase.transport.rawValue)\n"
                out += "   bytes: '\(fuzzCase.escapedBytes(limit: 1500))'\n"
                let others = findings.dropFirst().compactMap { $0.fuzzCase.map { "\($0.seed)/\($0.index)" } }
                if !others.isEmpty { out += "   also seed/case: \(others.prefix(12).joined(separator: " "))\(others.count > 12 ? " …" : "")\n" }
            }
        }
        return out
    }
}
