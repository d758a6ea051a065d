/// What came back for one case.
public struct FuzzOutcome: Sendable {
    /// Final statuses seen (HTTP/1 answers in order; HTTP/2 `:status` per HEADERS frame).
    public var statuses: [Int] = []
    /// HTTP/1 response heads, for header checks.
    public var heads: [HTTP1ResponseScanner.Head] = []
    /// Requests answered: HTTP/1 final answers; HTTP/2 streams with HEADERS or RST_STREAM.
    public var answered = 0
    /// The server sent GOAWAY (HTTP/2).
    public var goaway = false
    /// The connection ended before the deadline, by the server.
    public var closedByServer = false
    /// The deadline ended the connection.
    public var timedOut = false
    /// The connection could not be made at all.
    public var connectError: String?
    /// How long the case took.
    public var elapsed: Duration = .zero
}

/// Runs fuzz cases against a node, one fresh connection per case, bounded in time.
public struct FuzzExecutor: Sendable {
    /// Plain HTTP/1.1 port, or nil when this run has no plain node.
    public var port: Int
    /// The PEM file to trust for TLS (HTTP/2) connections; nil for plain TCP.
    public var trustRoot: String?
    /// How long a complete request may go unanswered before it counts as a hang.
    public var deadline: Duration

    public init(port: Int, trustRoot: String?, deadline: Duration) {
        self.port = port
        self.trustRoot = trustRoot
        self.deadline = deadline
    }

    /// Sends `fuzzCase` and reads until it is answered, the server closes, or time is up.
    public func run(_ fuzzCase: FuzzCase) async -> FuzzOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        var outcome = await exchange(fuzzCase)
        outcome.elapsed = clock.now - start
        return outcome
    }

    private func exchange(_ fuzzCase: FuzzCase) async -> FuzzOutcome {
        var outcome = FuzzOutcome()
        let connection: FuzzConnection
        do {
            connection = try await FuzzConnection(port: port, trustRoot: trustRoot, alpn: fuzzCase.transport == .http2 ? ["h2"] : ["http/1.1"])
        } catch {
            outcome.connectError = "\(error)"
            return outcome
        }
        let expected: Int
        switch fuzzCase.wait {
        case .answer(let responses):
            expected = responses
            connection.expire(after: deadline)
        case .linger(let linger):
            expected = 1
            connection.expire(after: linger)
        case .none:
            expected = 0
            connection.expire(after: deadline)
        }
        do {
            for write in fuzzCase.writes { try await connection.send(write) }
        } catch {
            // The server closed while we wrote; whatever it answered is still readable.
        }
        guard expected > 0 else {
            await connection.close()
            return outcome
        }
        var h1 = HTTP1ResponseScanner(methods: fuzzCase.methods)
        var h2 = HTTP2Wire.FrameReader()
        var answeredStreams = Set<UInt32>()
        var finished = false
        do {
            while let bytes = try await connection.read() {
                switch fuzzCase.transport {
                case .http1:
                    h1.feed(bytes)
                    outcome.heads = h1.heads
                    outcome.statuses = h1.heads.map(\.status)
                    outcome.answered = h1.heads.count
                    finished = outcome.answered >= expected || h1.malformed
                case .http2:
                    h2.append(bytes)
                    while let frame = h2.next() {
                        switch HTTP2Wire.FrameType(rawValue: frame.type) {
                        case .headers:
                            if let status = HPACKStatus.status(headersPayload: frame.payload, flags: frame.flags) {
                                outcome.statuses.append(status)
                            }
                            answeredStreams.insert(frame.stream)
                        case .rstStream: answeredStreams.insert(frame.stream)
                        case .goaway: outcome.goaway = true
                        default: break
                        }
                    }
                    outcome.answered = answeredStreams.count
                    let wanted = fuzzCase.streams.isEmpty ? false : Set(fuzzCase.streams).isSubset(of: answeredStreams)
                    finished = wanted || outcome.goaway
                }
                if finished { break }
            }
        } catch {
            // A reset connection ends the reading like a close.
        }
        outcome.timedOut = connection.timedOut
        outcome.closedByServer = !finished && !outcome.timedOut
        await connection.close()
        return outcome
    }
}
