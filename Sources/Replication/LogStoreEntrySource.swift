import Raft
import Storage

/// The Raft core's view of the stored log (``LogEntrySource``): entries it evicted from memory
/// are read back from `raft_log`. Called synchronously on the Raft thread, never on an event
/// loop. A storage error yields no entries; the core asks again later (docs/raft.md).
struct LogStoreEntrySource: LogEntrySource {
    let log: LogStore

    func entries(from: UInt64, through: UInt64, maxBytes: Int) -> [Entry] {
        (try? log.entries(from: from, through: through, maxBytes: maxBytes)) ?? []
    }
}
