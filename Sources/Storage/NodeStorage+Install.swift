import StreamModel

/// The whole install of a snapshot file through the redo marker (docs/state-transfer.md §3),
/// for the driver: the two calls it needs, on a dedicated thread, while the node serves no
/// reads and does not vote.
extension NodeStorage {
    /// Installs the verified snapshot file (from `IncomingSnapshotFile.finish()`): the marker,
    /// Raft snapshot metadata, peer addresses and log deletion in one synced write, then the
    /// state, then the marker cleared. Returns the loaded state to publish.
    public func installSnapshot(_ snapshot: VerifiedSnapshot) throws(StorageError) -> (model: StreamModel, appliedIndex: UInt64) {
        let metadata = snapshot.header.metadata
        let name = String(snapshot.path.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        try log.beginInstall(metadata, fileName: name, peers: snapshot.header.peers)
        return try finishInstall(path: snapshot.path, index: metadata.index)
    }

    /// On start, before anything else: if an install was interrupted, installs its file from
    /// `snapshotDirectory` again and returns the loaded state; `nil` if there was none. Throws
    /// if the file is gone or damaged: the marker stays and the node must get a snapshot
    /// again before it serves or votes.
    public func redoInterruptedInstall(snapshotDirectory: String) throws(StorageError) -> (model: StreamModel, appliedIndex: UInt64)? {
        guard let marker = try log.installMarker() else { return nil }
        return try finishInstall(path: snapshotDirectory + "/" + marker.fileName, index: marker.index)
    }

    private func finishInstall(path: String, index: UInt64) throws(StorageError) -> (model: StreamModel, appliedIndex: UInt64) {
        let installed = try state.install(from: path)
        guard installed.appliedIndex == index else {
            throw StorageError(.corruption, "snapshot file \(path) installed index \(installed.appliedIndex), not \(index)")
        }
        try log.finishInstall()
        return installed
    }
}
