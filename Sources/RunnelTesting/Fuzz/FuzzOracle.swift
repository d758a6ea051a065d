/// One thing the oracle found wrong.
public struct FuzzFinding: Sendable {
    /// The kinds of finding, named for reports and for `RUNNEL_FUZZ_IGNORE`.
    public enum Kind: String, Sendable, CaseIterable {
        /// An answer with a 5xx status (other than one the RFCs recommend for the request).
        case serverError = "5xx"
        /// A complete request got neither an answer nor a close within the deadline.
        case hang
        /// The process exited (crashed) during the case.
        case crash
        /// `/healthz` did not answer 200 (or could not be reached) while the process ran.
        case unhealthy
        /// A request with a definite protocol violation was accepted (2xx/3xx, not 4xx).
        case acceptedInvalid = "accepted-invalid"
        /// An `/admin/...` answer carried CORS headers (api.md §3).
        case adminCORS = "admin-cors"
        /// A canary stream did not read back byte-identical.
        case canary
        /// A metrics label took a value from client input, or grew past any fixed set.
        case metricsLabels = "metrics-labels"
    }

    public var kind: Kind
    public var detail: String
    /// The case that provoked it, when there is one.
    public var fuzzCase: FuzzCase?

    public init(_ kind: Kind, _ detail: String, _ fuzzCase: FuzzCase? = nil) {
        self.kind = kind
        self.detail = detail
        self.fuzzCase = fuzzCase
    }

    /// Findings with the same key are one bug for the summary: kind, the detail's first
    /// words, and the case's route family and framing.
    public var key: String {
        if kind == .crash { return "crash " + (detail.split(separator: ";").first.map(String.init) ?? detail) }
        let words = detail.split(separator: " ").prefix(kind == .acceptedInvalid ? 2 : 1).joined(separator: " ")
        guard let fuzzCase else { return "\(kind.rawValue) \(words)" }
        return "\(kind.rawValue) \(words) \(fuzzCase.transport.rawValue) \(fuzzCase.tags.first ?? "") \(fuzzCase.tags.last ?? "")"
    }
}

/// The per-case checks: no 5xx, no hang, definite violations refused, no CORS on admin.
/// Liveness, canaries and metrics are checked by the runner (`FuzzRunner`).
public enum FuzzOracle {
    public static func check(_ fuzzCase: FuzzCase, _ outcome: FuzzOutcome) -> [FuzzFinding] {
        var findings: [FuzzFinding] = []
        for status in outcome.statuses where status >= 500 && !fuzzCase.tolerated5xx.contains(status) {
            findings.append(FuzzFinding(.serverError, "\(status) answered", fuzzCase))
            break
        }
        if case .answer(let responses) = fuzzCase.wait, outcome.timedOut, outcome.answered < responses {
            findings.append(FuzzFinding(.hang, "no answer and no close within \(outcome.elapsed) (\(outcome.answered)/\(responses) answered)", fuzzCase))
        }
        if let rejection = fuzzCase.mustReject, let status = outcome.statuses.first, (200..<400).contains(status) {
            findings.append(FuzzFinding(.acceptedInvalid, "\(rejection.reason): answered \(status)", fuzzCase))
        }
        if fuzzCase.isAdmin {
            for head in outcome.heads {
                if let cors = head.headers.first(where: { $0.name.lowercased().hasPrefix("access-control-") }) {
                    findings.append(FuzzFinding(.adminCORS, "admin answer \(head.status) carries \(cors.name): \(cors.value)", fuzzCase))
                    break
                }
            }
        }
        return findings
    }

    /// Checks a Prometheus text exposition: no label value holds the fuzzer's probe marker
    /// (client input became a label), and no label has more distinct values than `limit`
    /// (a label set that grows with traffic).
    public static func checkMetrics(_ text: String, limit: Int = 64) -> [FuzzFinding] {
        var values: [String: Set<String>] = [:]
        var findings: [FuzzFinding] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}"), open < close else { continue }
            let metric = String(line[..<open])
            for (label, value) in labels(String(line[line.index(after: open)..<close])) {
                values["\(metric).\(label)", default: []].insert(value)
            }
        }
        let marker = FuzzPaths.probeMarker
        for (label, set) in values.sorted(by: { $0.key < $1.key }) {
            if let probe = set.first(where: { $0.lowercased().contains(marker) }) {
                findings.append(FuzzFinding(.metricsLabels, "client input as a label value: \(label)=\"\(probe.prefix(80))\" (\(set.count) values)"))
            } else if set.count > limit {
                findings.append(FuzzFinding(.metricsLabels, "label \(label) has \(set.count) distinct values, e.g. \(set.sorted().prefix(5))"))
            }
        }
        return findings
    }

    /// `a="x",b="y\"z"` as pairs, unescaping `\"`, `\\` and `\n`.
    static func labels(_ text: String) -> [(String, String)] {
        var pairs: [(String, String)] = []
        var chars = text[...]
        while let eq = chars.firstIndex(of: "=") {
            let name = chars[..<eq].trimmingPrefix(",").trimmingPrefix(" ")
            chars = chars[chars.index(after: eq)...]
            guard chars.first == "\"" else { break }
            chars = chars.dropFirst()
            var value = ""
            var escaped = false
            while let c = chars.first {
                chars = chars.dropFirst()
                if escaped { value.append(c == "n" ? "\n" : c); escaped = false }
                else if c == "\\" { escaped = true }
                else if c == "\"" { break }
                else { value.append(c) }
            }
            pairs.append((String(name), value))
        }
        return pairs
    }
}
