import BinaryCodec
import Raft
import RocksDB

/// The cluster identity and admission state in `raft_state` (docs/state-transfer.md §5).
extension LogStore {
    /// The stored identity, or `nil` for a data directory written before identities existed.
    public func clusterIdentity() throws(StorageError) -> ClusterIdentity? {
        guard let raw = try get(Keys.clusterIdentity) else { return nil }
        var r = ByteReader(raw)
        do {
            let identity = ClusterIdentity(clusterID: try ClusterID(from: &r), incarnation: try r.u64())
            try r.expectEnd()
            return identity
        } catch {
            throw StorageError(error, "cluster identity")
        }
    }

    public func setClusterIdentity(_ identity: ClusterIdentity) throws(StorageError) {
        do { try db.put(Keys.clusterIdentity, Self.encode(identity), in: state, sync: true) } catch { throw StorageError(error) }
    }

    /// Whether this node takes part in Raft; data directories from before admission existed
    /// are members.
    public func admission() throws(StorageError) -> Admission {
        guard let raw = try get(Keys.admission) else { return .member }
        guard raw.count == 1, let admission = Admission(rawValue: raw[0]) else {
            throw StorageError(.corruption, "admission state \(raw)")
        }
        return admission
    }

    public func setAdmission(_ admission: Admission) throws(StorageError) {
        do { try db.put(Keys.admission, [admission.rawValue], in: state, sync: true) } catch { throw StorageError(error) }
    }

    static func encode(_ identity: ClusterIdentity) -> [UInt8] {
        var w = ByteWriter(capacity: 24)
        identity.clusterID.encode(into: &w)
        w.u64(identity.incarnation)
        return w.bytes
    }
}
