import Foundation
import SpoolCore
import SpoolReplication
import Synchronization

/// A snapshot arriving at a secondary, written aside (`PATH-replication-snapshot`) a megabyte at a
/// time (``SequentialFile``), and put in place of the copy only once whole and verified: synced,
/// its position recorded (`PATH-replication-snapshot-ready`), written over the copy as one write
/// (``ReplicaFile/replace(with:pageSize:pages:)``, so readers of the copy see it before or after;
/// an empty copy is simply replaced by rename), the copy's position replaced, the snapshot and the
/// record removed.
/// ``recover(path:standing:positionFile:)`` finishes or discards what a crash left.
struct SnapshotFile {
    private let path: String
    private let file: SequentialFile

    /// Starts writing the snapshot aside for the copy at `path` (over any left before).
    init(for path: String) throws {
        self.path = path
        file = try SequentialFile(path: Self.aside(path))
    }

    /// Appends the next pages.
    func append(_ pages: [UInt8]) throws {
        try file.append(pages)
    }

    /// Puts the whole, verified snapshot in place of the copy; `standing` is where it stands.
    func finish(at standing: PositionFile.Standing, positionFile: PositionFile) throws {
        try file.finish()
        try PositionFile(path: Self.ready(path)).write(standing)
        try Self.putInPlace(path, standing: standing, positionFile: positionFile)
    }

    /// Abandons the snapshot (the connection ended before its end).
    func discard() {
        file.abandon()
        try? FileManager.default.removeItem(atPath: Self.aside(path))
    }

    /// Finishes a snapshot a crash interrupted after it was recorded whole, and removes one that
    /// was not; returns where the copy now stands.
    static func recover(path: String, standing: PositionFile.Standing, positionFile: PositionFile) throws -> PositionFile.Standing {
        let ready = PositionFile(path: ready(path))
        guard let snapshot = try ready.read() else {
            try? FileManager.default.removeItem(atPath: aside(path))
            return standing
        }
        try putInPlace(path, standing: snapshot, positionFile: positionFile)
        return snapshot
    }

    private static func putInPlace(_ path: String, standing: PositionFile.Standing, positionFile: PositionFile) throws {
        let aside = aside(path)
        if let handle = FileHandle(forUpdatingAtPath: aside) {
            let header = Array(try handle.read(upToCount: 100) ?? Data())
            let size = try handle.seekToEnd()
            guard header.count == 100 else {
                try? handle.close()
                throw SpoolError(.invalidState, "the snapshot \(aside) has no SQLite header")
            }
            let pageSize = Int(header[16]) << 8 | Int(header[17]) == 1 ? 65_536 : Int(header[16]) << 8 | Int(header[17])
            let pages = UInt32(size / UInt64(pageSize))
            let copySize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
            if copySize == 0 {
                // An empty copy has no reader to protect (Spool refuses to open one): the snapshot,
                // its page 1 made as a write of the copy would leave it, takes its place by rename.
                try handle.seek(toOffset: 0)
                let first = Array(try handle.read(upToCount: pageSize) ?? Data())
                try handle.seek(toOffset: 0)
                try handle.write(contentsOf: RollbackJournal.header(first, previous: nil, databasePages: pages))
                try handle.synchronize()
                try handle.close()
                guard rename(aside, path) == 0 else { throw SpoolError(.storeUnavailable, "cannot put the snapshot in place of \(path): \(String(cString: strerror(errno)))") }
                PositionFile.syncDirectory(of: path)
            } else {
                try handle.close()
                try ReplicaFile(path: path).replace(with: aside, pageSize: pageSize, pages: pages)
            }
        }
        try positionFile.write(standing)
        try? FileManager.default.removeItem(atPath: aside)
        try FileManager.default.removeItem(atPath: ready(path))
    }

    private static func aside(_ path: String) -> String { path + "-replication-snapshot" }
    private static func ready(_ path: String) -> String { path + "-replication-snapshot-ready" }
}

/// The snapshot a secondary's connection is receiving, if any, kept for the side that writes
/// the copy (which runs on a thread pool, one batch at a time).
final class SnapshotSlot: Sendable {
    private let file = Mutex<SnapshotFile?>(nil)

    /// Starts a snapshot for the copy at `path` (abandoning one begun before).
    func begin(for path: String) throws {
        let started = try SnapshotFile(for: path)
        file.withLock { file in
            file?.discard()
            file = started
        }
    }

    /// Appends the next pages to the snapshot begun.
    func append(_ pages: [UInt8]) throws {
        try file.withLock { file in try file?.append(pages) }
    }

    /// Puts the snapshot begun in place (see ``SnapshotFile/finish(at:positionFile:)``).
    func finish(at standing: PositionFile.Standing, positionFile: PositionFile) throws {
        try file.withLock { file in
            defer { file = nil }
            try file?.finish(at: standing, positionFile: positionFile)
        }
    }

    /// Abandons the snapshot begun, if any.
    func discard() {
        file.withLock { file in
            file?.discard()
            file = nil
        }
    }
}
