import Crypto
import Foundation
import SpoolCore
import SpoolReplication
import Synchronization

/// A replication position kept in a file next to a store, with the term of the primary it
/// belongs to: a secondary's last applied transaction (`PATH-replication`); for a primary
/// (`PATH-replication-primary`), a transaction number none it published is beyond (it reserves
/// numbers ahead, see ``ReplicationPrimary``) and a checksum its next start goes on from.
///
/// The file holds two records of 256 bytes, written in turn in place and synced (data only): a
/// write cut short by a crash spoils at most the record it was writing, and the other still holds
/// the one before. A record is a line naming the format, a sequence number (the higher of two
/// whole records is the file's), the term and the transaction number (8 bytes each, big-endian),
/// the running checksum (32 bytes), for a secondary in the middle of writing a batch its
/// ``Pending`` write (a flag, transaction number, checksum, change counter: 45 bytes), and the
/// SHA-256 of all that. The file is created whole (a new file synced and renamed into place, its
/// directory synced); a file of an earlier format (one record, replaced whole at each write) is
/// read, and replaced by one of this format at the first write.
final class PositionFile: Sendable {
    /// Where a copy or a primary stands: the term of its primary and its position.
    struct Standing: Sendable, Hashable {
        var term: UInt64
        var position: ReplicationPosition

        /// A secondary that has followed no primary yet.
        static let none = Standing(term: 0, position: .empty)
    }

    /// A write of a batch into a copy that may or may not have finished: where the copy stands
    /// once it has, and the change counter the copy's page 1 carries from then on. Written
    /// before the batch, so that each batch costs the copy one small write besides itself; the
    /// secondary that starts after a crash looks at the copy's counter to tell which side of the
    /// write it is on.
    struct Pending: Sendable, Hashable {
        var position: ReplicationPosition
        var counter: UInt32
    }

    /// The file.
    let path: String
    /// The open file and the sequence number of its newest record, once this process has written it.
    private let opened = Mutex<(descriptor: Int32, sequence: UInt64)?>(nil)

    /// The file at `path` (nothing is read or written yet).
    init(path: String) {
        self.path = path
    }

    deinit {
        if let descriptor = opened.withLock({ $0?.descriptor }) { close(descriptor) }
    }

    /// The first line of each record.
    static let magic = Array("spool-replication-position-4\n".utf8)
    /// The first line of the format before, one record replaced whole, with a pending write or not.
    static let previousMagic = Array("spool-replication-position-3\n".utf8)
    /// The first line of the format before that, which had no pending write.
    static let oldestMagic = Array("spool-replication-position-2\n".utf8)
    /// The size of a record.
    static let recordSize = 256

    /// What the file holds, its pending write left aside (only a secondary's own file has one,
    /// and the secondary reads it with ``readRecord()``); `nil` when there is no file.
    func read() throws -> Standing? { try readRecord()?.standing }

    /// What the file holds, with the pending write if there is one; `nil` when there is no file.
    func readRecord() throws -> (standing: Standing, pending: Pending?)? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = Array(data)
        if let newest = Self.records(bytes).max(by: { $0.sequence < $1.sequence }) { return (newest.standing, newest.pending) }
        if let previous = Self.previousFormat(bytes) { return previous }
        // Created without a record, and its first write (into the second record) cut short: it
        // never held a position.
        if bytes.count == 2 * Self.recordSize, bytes.prefix(Self.recordSize).allSatisfy({ $0 == 0 }) { return nil }
        throw SpoolError(.invalidState, "\(path) is not a replication position (or both its records are damaged); remove it (and the copy it belongs to) to start over")
    }

    /// Records `standing` and, for a secondary about to write a batch, its `pending` write, in
    /// place of the older of the file's two records, synced before it returns.
    func write(_ standing: Standing, pending: Pending? = nil) throws {
        try opened.withLock { opened in
            let file = try opened ?? create()
            opened = file
            let sequence = file.sequence + 1
            let record = Self.record(sequence: sequence, standing, pending: pending)
            try ReplicaFile.writeAll(file.descriptor, record, at: off_t(Int(sequence % 2) * Self.recordSize), path: path)
            guard fdatasync(file.descriptor) == 0 else { throw SpoolError(.storeUnavailable, "cannot sync \(path): \(String(cString: strerror(errno)))") }
            opened?.sequence = sequence
        }
    }

    /// Opens the file for writing in place: a file of this format as it is, any other (or none)
    /// replaced first by one of this format holding what it held.
    private func create() throws -> (descriptor: Int32, sequence: UInt64) {
        let bytes = FileManager.default.contents(atPath: path).map(Array.init) ?? []
        var sequence = Self.records(bytes).map(\.sequence).max()
        if sequence == nil {
            let held = bytes.isEmpty ? nil : Self.previousFormat(bytes)
            var content = held.map { Self.record(sequence: 1, $0.standing, pending: $0.pending) } ?? []
            content += [UInt8](repeating: 0, count: 2 * Self.recordSize - content.count)
            let temporary = path + ".new"
            try Self.writeSynced(Data(content), to: temporary)
            guard rename(temporary, path) == 0 else { throw SpoolError(.storeUnavailable, "cannot replace \(path): \(String(cString: strerror(errno)))") }
            Self.syncDirectory(of: path)
            sequence = held == nil ? 0 : 1
        }
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw SpoolError(.storeUnavailable, "cannot write \(path): \(String(cString: strerror(errno)))") }
        return (descriptor, sequence ?? 0)
    }

    private struct Record {
        var sequence: UInt64
        var standing: Standing
        var pending: Pending?
    }

    /// The whole records of a file of this format.
    private static func records(_ bytes: [UInt8]) -> [Record] {
        (0..<2).compactMap { slot in
            let start = slot * recordSize
            guard bytes.count >= start + recordSize else { return nil }
            let body = bytes[start..<(start + recordSize)]
            guard body.starts(with: magic) else { return nil }
            let fields = body.dropFirst(magic.count)
            let length = 8 + 8 + 8 + 32 + 1 + 8 + 32 + 4
            guard Array(SHA256.hash(data: Array(body.prefix(magic.count + length)))) == Array(fields.dropFirst(length).prefix(32)) else { return nil }
            let sequence = integer(fields, 0, 8)
            let standing = Standing(term: integer(fields, 8, 8), position: ReplicationPosition(transaction: integer(fields, 16, 8), checksum: slice(fields, 24, 32)))
            let pending = fields[fields.startIndex + 56] == 1
                ? Pending(position: ReplicationPosition(transaction: integer(fields, 57, 8), checksum: slice(fields, 65, 32)), counter: UInt32(integer(fields, 97, 4)))
                : nil
            return Record(sequence: sequence, standing: standing, pending: pending)
        }
    }

    /// One record of this format.
    private static func record(sequence: UInt64, _ standing: Standing, pending: Pending?) -> [UInt8] {
        var bytes = magic
        append(sequence, 8, to: &bytes)
        append(standing.term, 8, to: &bytes)
        append(standing.position.transaction, 8, to: &bytes)
        bytes += checksum(standing.position.checksum)
        bytes.append(pending == nil ? 0 : 1)
        append(pending?.position.transaction ?? 0, 8, to: &bytes)
        bytes += checksum(pending?.position.checksum ?? [])
        append(UInt64(pending?.counter ?? 0), 4, to: &bytes)
        bytes += SHA256.hash(data: bytes)
        return bytes + [UInt8](repeating: 0, count: recordSize - bytes.count)
    }

    /// What a file of an earlier format holds (one record, replaced whole at each write).
    private static func previousFormat(_ bytes: [UInt8]) -> (standing: Standing, pending: Pending?)? {
        let body: ArraySlice<UInt8>
        if bytes.starts(with: previousMagic), [48, 92].contains(bytes.count - previousMagic.count) {
            body = bytes[previousMagic.count...]
        } else if bytes.starts(with: oldestMagic), bytes.count - oldestMagic.count == 48 {
            body = bytes[oldestMagic.count...]
        } else {
            return nil
        }
        let standing = Standing(term: integer(body, 0, 8), position: ReplicationPosition(transaction: integer(body, 8, 8), checksum: slice(body, 16, 32)))
        guard body.count == 92 else { return (standing, nil) }
        let pending = Pending(position: ReplicationPosition(transaction: integer(body, 48, 8), checksum: slice(body, 56, 32)),
                              counter: UInt32(integer(body, 88, 4)))
        return (standing, pending)
    }

    /// A running checksum as stored: 32 bytes.
    private static func checksum(_ bytes: [UInt8]) -> [UInt8] {
        Array(bytes.prefix(32)) + [UInt8](repeating: 0, count: max(0, 32 - bytes.count))
    }

    private static func integer(_ bytes: ArraySlice<UInt8>, _ offset: Int, _ count: Int) -> UInt64 {
        bytes.dropFirst(offset).prefix(count).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    private static func slice(_ bytes: ArraySlice<UInt8>, _ offset: Int, _ count: Int) -> [UInt8] {
        Array(bytes.dropFirst(offset).prefix(count))
    }

    private static func append(_ value: UInt64, _ count: Int, to bytes: inout [UInt8]) {
        for shift in stride(from: (count - 1) * 8, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
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
