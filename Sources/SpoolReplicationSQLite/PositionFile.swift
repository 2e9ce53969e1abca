import Foundation
import SpoolCore
import SpoolReplication

/// A replication position kept in a file next to a store, with the term of the primary it
/// belongs to: a secondary's last applied transaction (`PATH-replication`); for a primary
/// (`PATH-replication-primary`), a transaction number none it published is beyond (it reserves
/// numbers ahead, see ``ReplicationPrimary``) and a checksum its next start goes on from. The file is a line naming the format, the term and the
/// transaction number (8 bytes each, big-endian) and the running checksum (32 bytes); it is
/// replaced whole (a new file synced, then renamed over the old).
struct PositionFile: Sendable {
    /// Where a copy or a primary stands: the term of its primary and its position.
    struct Standing: Sendable, Hashable {
        var term: UInt64
        var position: ReplicationPosition

        /// A secondary that has followed no primary yet.
        static let none = Standing(term: 0, position: .empty)
    }

    /// The file.
    let path: String

    /// The format's first line.
    static let magic = Array("spool-replication-position-2\n".utf8)

    /// What the file holds; `nil` when there is no file.
    func read() throws -> Standing? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = Array(data)
        guard bytes.count == Self.magic.count + 48, bytes.starts(with: Self.magic) else {
            throw SpoolError(.invalidState, "\(path) is not a replication position; remove it (and the copy it belongs to) to start over")
        }
        let body = Array(bytes[Self.magic.count...])
        let term = body.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let number = body[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Standing(term: term, position: ReplicationPosition(transaction: number, checksum: Array(body[16...])))
    }

    /// Replaces the file with `standing`.
    func write(_ standing: Standing) throws {
        var bytes = Self.magic
        for value in [standing.term, standing.position.transaction] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        bytes += standing.position.checksum
        let temporary = path + ".new"
        try Self.writeSynced(Data(bytes), to: temporary)
        guard rename(temporary, path) == 0 else { throw SpoolError(.storeUnavailable, "cannot replace \(path): \(String(cString: strerror(errno)))") }
        Self.syncDirectory(of: path)
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
