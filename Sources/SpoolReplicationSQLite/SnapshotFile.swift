import Foundation
import SpoolCore
import SpoolReplication

/// A snapshot arriving at a secondary, written aside (`PATH-replication-snapshot`) page by page
/// and put in place of the copy only once whole and verified: synced, its position recorded
/// (`PATH-replication-snapshot-ready`), renamed over the copy, the copy's position replaced, the
/// record removed. ``recover(path:position:)`` finishes or discards what a crash left.
struct SnapshotFile {
    private let path: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    /// Starts writing the snapshot aside for the copy at `path` (over any left before).
    init(for path: String) throws {
        self.path = path
        let aside = Self.aside(path)
        guard FileManager.default.createFile(atPath: aside, contents: nil), let handle = FileHandle(forWritingAtPath: aside) else {
            throw SpoolError(.storeUnavailable, "cannot write a snapshot to \(aside)")
        }
        self.handle = handle
    }

    /// Appends the next page.
    mutating func append(_ page: [UInt8]) throws {
        buffer += page
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Puts the whole, verified snapshot in place of the copy; `position` is where it stands.
    mutating func finish(at position: ReplicationPosition, positionFile: PositionFile) throws {
        try flush()
        try handle.synchronize()
        try handle.close()
        try PositionFile(path: Self.ready(path)).write(position)
        try Self.putInPlace(path, position: position, positionFile: positionFile)
    }

    /// Abandons the snapshot (the connection ended before its end).
    func discard() {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: Self.aside(path))
    }

    private mutating func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Finishes a snapshot a crash interrupted after it was recorded whole, and removes one that
    /// was not; returns the position the copy now stands at.
    static func recover(path: String, position: ReplicationPosition, positionFile: PositionFile) throws -> ReplicationPosition {
        let ready = PositionFile(path: ready(path))
        guard FileManager.default.fileExists(atPath: ready.path) else {
            try? FileManager.default.removeItem(atPath: aside(path))
            return position
        }
        let snapshot = try ready.read()
        try putInPlace(path, position: snapshot, positionFile: positionFile)
        return snapshot
    }

    private static func putInPlace(_ path: String, position: ReplicationPosition, positionFile: PositionFile) throws {
        let aside = aside(path)
        if FileManager.default.fileExists(atPath: aside) {
            guard rename(aside, path) == 0 else { throw SpoolError(.storeUnavailable, "cannot put the snapshot in place of \(path): \(String(cString: strerror(errno)))") }
            PositionFile.syncDirectory(of: path)
        }
        try positionFile.write(position)
        try FileManager.default.removeItem(atPath: ready(path))
    }

    private static func aside(_ path: String) -> String { path + "-replication-snapshot" }
    private static func ready(_ path: String) -> String { path + "-replication-snapshot-ready" }
}
