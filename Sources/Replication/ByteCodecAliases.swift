import StreamModel

// The Raft and StreamModel modules each have a byte codec with the same type names, and the
// `StreamModel` module has a type of its own name, so files importing both name these.
typealias BinaryWriter = ByteWriter
typealias BinaryReader = ByteReader
