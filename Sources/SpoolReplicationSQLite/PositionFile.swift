import Foundation
import SpoolCore
import SpoolReplication

/// A replication position kept in a file next to a store, with the term of the primary it
/// belongs to: a secondary's last applied transaction (`PATH-replication`); for a primary
/// (`PATH-replication-primary`), a transaction number none it published is beyond (it reserves
/// numbers ahead, see ``ReplicationPrimary``) and a checksum its next start goes on from. The file is a line naming the format, the term and the
/// transaction number (8 bytes each, big-endian) and the running checksum (32 bytes), and for a
/// secondary in the middle of writing a batch its ``Pending`` write (transaction number, checksum,
/// change counter: 44 bytes); it is replaced whole (a new file synced, then renamed over the old).
/// A file of the previous format (no pending write) is read as well.
struct PositionFile: Sendable {
    /// Where a copy or a primary stands: the term of its primary and its position.
    struct Standing: Sendable, Hashable {
        var term: UInt64
        var position: ReplicationPosition

        /// A secondary that has followed no primary yet.
        static let none = Standing(term: 0, position: .empty)
    }

    /// A write of a batch into a copy that may or may not have finished: where the copy stands
    /// once it has, and the change counter the copy's page 1 carries from then on. Written
    /// before the batch, so that each batch costs the copy one file written besides itself; the
    /// secondary that starts after a crash looks at the copy's counter to tell which side of the
    /// write it is on.
    struct Pending: Sendable, Hashable {
        var position: ReplicationPosition
        var counter: UInt32
    }

    /// The file.
    let path: String

    /// The format's first line.
    static let magic = Array("spool-replication-position-3\n".utf8)
    /// The first line of the format before, which had no pending write.
    static let previousMagic = Array("spool-replication-position-2\n".utf8)

    /// What the file holds, its pending write left aside (only a secondary's own file has one,
    /// and the secondary reads it with ``readRecord()``); `nil` when there is no file.
    func read() throws -> Standing? { try readRecord()?.standing }

    /// What the file holds, with the pending write if there is one; `nil` when there is no file.
    func readRecord() throws -> (standing: Standing, pending: Pending?)? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = Array(data)
        let body: ArraySlice<UInt8>
        if bytes.starts(with: Self.magic), [48, 92].contains(bytes.count - Self.magic.count) {
            body = bytes[Self.magic.count...]
        } else if bytes.starts(with: Self.previousMagic), bytes.count - Self.previousMagic.count == 48 {
            body = bytes[Self.previousMagic.count...]
        } else {
            throw SpoolError(.invalidState, "\(path) is not a replication position; remove it (and the copy it belongs to) to start over")
        }
        func integer(_ offset: Int, _ count: Int) -> UInt64 {
            body.dropFirst(offset).prefix(count).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
        let start = body.startIndex
        let standing = Standing(term: integer(0, 8),
                                position: ReplicationPosition(transaction: integer(8, 8), checksum: Array(body[(start + 16)..<(start + 48)])))
        guard body.count == 92 else { return (standing, nil) }
        let pending = Pending(position: ReplicationPosition(transaction: integer(48, 8), checksum: Array(body[(start + 56)..<(start + 88)])),
                              counter: UInt32(integer(88, 4)))
        return (standing, pending)
    }

    /// Replaces the file with `standing` and, for a secondary about to write a batch, its
    /// `pending` write. The new file is synced and renamed over the old; the directory is synced
    /// too (so the rename survives a power cut) unless the caller syncs it itself before anything
    /// depends on the rename.
    func write(_ standing: Standing, pending: Pending? = nil, syncingDirectory: Bool = true) throws {
        var bytes = Self.magic
        func append(_ value: UInt64, bytes count: Int) {
            for shift in stride(from: (count - 1) * 8, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        append(standing.term, bytes: 8)
        append(standing.position.transaction, bytes: 8)
        bytes += standing.position.checksum
        if let pending {
            append(pending.position.transaction, bytes: 8)
            bytes += pending.position.checksum
            append(UInt64(pending.counter), bytes: 4)
        }
        let temporary = path + ".new"
        try Self.writeSynced(Data(bytes), to: temporary)
        guard rename(temporary, path) == 0 else { throw SpoolError(.storeUnavailable, "cannot replace \(path): \(String(cString: strerror(errno)))") }
        if syncingDirectory { Self.syncDirectory(of: path) }
    }

    /// Syncs the directory of `path`, so that a rename into it survives a power cut.
    static func syncDirectory(of path: String) {
        let directory = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY)
        guard directory >= 0 else { return }
        fsync(directory)
        close(directory)
    }

    /// Writes `data` to `file` and syncs it to disk.
    static func writeSynced(_ data: Data, to file: String) throws {
        guard FileManager.default.createFile(atPath: file, contents: data), let handle = FileHandle(forWritingAtPath: file) else {
            throw SpoolError(.storeUnavailable, "cannot write \(file)")
        }
        defer { try? handle.close() }
        try handle.synchronize()
    }
}
