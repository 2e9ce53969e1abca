import Foundation
import SpoolCore
import SpoolReplication

/// The store file as it stood at one position of the history, readable page by page for as long
/// as the snapshot is kept: a read transaction begun right after the log was copied back whole
/// reads the file alone (SQLite's read mark 0), and while it lasts no process can copy the log
/// back into the file, so the file's pages stay those of the position while writers go on
/// committing to the log. Made by ``WALCapture/snapshot()``; released when the last reference
/// goes (checkpoints resume then).
public final class StoreSnapshot: @unchecked Sendable {
    // Unchecked: SQL runs on the handle only in the initializer and deinit; pages are read
    // through its file with pread(2), which any thread may call.

    /// The position the pages stand at.
    public let position: ReplicationPosition
    /// The page size in bytes.
    public let pageSize: UInt32
    /// The number of pages.
    public let pages: UInt32
    private let reader: SQLiteHandle

    /// Holds the file at `path` as it is now, which the caller knows to be `position`: the log
    /// must have been copied back whole, and the write lock must be held while this begins.
    init(path: String, position: ReplicationPosition) throws {
        self.position = position
        reader = try SQLiteHandle(path: path)
        try reader.execute("BEGIN")
        _ = try reader.integers("SELECT count(*) FROM sqlite_schema")   // the read begins here
        let size = try reader.integers("PRAGMA page_size").first ?? 0
        let count = try reader.integers("PRAGMA page_count").first ?? 0
        guard size >= 512, size <= 65_536, count > 0, count <= Int64(UInt32.max) else {
            throw SpoolError(.invalidState, "\(path) reports \(count) pages of \(size) bytes; it cannot be sent as a snapshot")
        }
        pageSize = UInt32(size)
        pages = UInt32(count)
    }

    deinit {
        try? reader.execute("COMMIT")
    }

    /// The bytes of `count` pages from page `first` (numbered from 1), one after the other.
    public func read(from first: UInt32, count: UInt32) throws -> [UInt8] {
        guard first >= 1, count >= 1, UInt64(first) + UInt64(count) - 1 <= UInt64(pages) else {
            throw SpoolError(.invalidArgument, "pages \(first) to \(UInt64(first) + UInt64(count) - 1) are outside the snapshot's \(pages)")
        }
        let length = Int(count) * Int(pageSize)
        let start = Int64(first - 1) * Int64(pageSize)
        return try [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            try reader.readFile(into: UnsafeMutableRawBufferPointer(buffer), at: Int64(start))
            initialized = length
        }
    }
}
