import BinaryCodec
import Raft
import Testing

/// Configuration entries carry the membership and the driver's context (docs/raft.md); entries
/// written before the context existed still decode.
@Suite struct ConfigurationEntryTests {
    static let membership = Membership(voters: [1, 2, 3], learners: [4])

    @Test func anEntryWithoutAContextIsTheOldFormat() throws {
        let entry = ConfigurationEntry(membership: Self.membership)
        #expect(entry.encoded() == Self.membership.encoded())
        #expect(try ConfigurationEntry(decoding: Self.membership.encoded()) == entry)
    }

    @Test func theContextRoundTripsAndTruncationThrows() throws {
        let entry = ConfigurationEntry(membership: Self.membership, context: Array("4@127.0.0.1:9".utf8))
        let bytes = entry.encoded()
        #expect(try ConfigurationEntry(decoding: bytes) == entry)
        for cut in 1..<bytes.count where cut != Self.membership.encoded().count {
            #expect(throws: BinaryDecodingError.self) { try ConfigurationEntry(decoding: Array(bytes.prefix(cut))) }
        }
        #expect(throws: BinaryDecodingError.self) { try ConfigurationEntry(decoding: bytes + [0]) }
    }

    @Test func theCoreAppendsTheContextAndStillTracksTheMembership() throws {
        var leader = RaftNode(id: 1, configuration: RaftConfiguration(), state: .bootstrap(voters: [1]))
        leader.campaign()
        // Persist everything it asks for until its first entry (the no-op) commits.
        while leader.hasReady {
            let ready = leader.ready()
            if let mark = ready.persistedMark { leader.persisted(upTo: mark.index, term: mark.term) }
        }
        #expect(leader.role == .leader)
        let position = try leader.proposeMembershipChange(.addLearner(2), context: [7, 7])
        #expect(leader.membership == Membership(voters: [1], learners: [2]))
        #expect(leader.membershipChangePending)
        let entry = try #require(leader.entry(at: position.index))
        #expect(try ConfigurationEntry(decoding: entry.data) == ConfigurationEntry(membership: leader.membership, context: [7, 7]))
    }
}
