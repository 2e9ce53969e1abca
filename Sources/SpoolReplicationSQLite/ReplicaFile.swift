import Foundation
import SpoolCore
import SpoolReplication

/// A copy of a store file built from captured transactions, which other processes may read with
/// SQLite while it is written.
///
/// The copy is read in rollback mode (page 1 says so; the primary's write-ahead log stays the
/// primary's), and each write — a batch of transactions, or a whole snapshot — is done as an SQLite
/// writer of another process would: it takes SQLite's EXCLUSIVE lock (waiting for readers that are
/// reading, keeping new ones out), writes a hot journal of the pages it overwrites and syncs it,
/// writes the pages, moves page 1's change counter on (readers drop their caches), syncs, and
/// zeroes the journal's header, which commits (the journal is kept for the next write, as
/// SQLite's PERSIST mode keeps it; see ``RollbackJournal/File``). A reader sees the copy before or after a write, never
/// during; a writer that dies mid-write leaves a journal the next SQLite connection plays back.
/// Only one process may write a copy (its secondary).
public struct ReplicaFile: Sendable {
    /// The copy's path.
    public let path: String

    /// A copy at `path` (created empty when missing).
    public init(path: String) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw SpoolError(.storeUnavailable, "cannot create replica \(path)")
            }
        }
    }

    /// Writes `transactions` in order, as one write: only the last version of each page is
    /// written (readers see the copy before or after the whole write, so earlier versions are
    /// never seen), and a page a transaction's shrink cut off is gone unless a later one wrote it
    /// again, exactly as writing them one by one would leave the file.
    public func apply(_ transactions: [ReplicationTransaction]) throws {
        try apply(transactions, stoppingAfter: nil)
    }

    /// ``apply(_:)``, but with `stoppingAfter`, throws ``Interrupted`` once that many pages are
    /// written into the copy, leaving the copy and its hot journal as a crash there would.
    func apply(_ transactions: [ReplicationTransaction], stoppingAfter limit: Int?) throws {
        guard let last = transactions.last, let pageSize = transactions.lazy.compactMap({ $0.pages.first?.bytes.count }).first else { return }
        var latest: [UInt32: [UInt8]] = [:]
        var smallest = UInt32.max, size = UInt32.max
        for transaction in transactions {
            for page in transaction.pages {
                guard page.number != 0, page.bytes.count == pageSize else {
                    throw SpoolError(.invalidArgument, "transaction \(transaction.number): page \(page.number) has \(page.bytes.count) bytes, not \(pageSize)")
                }
                latest[page.number] = page.bytes
            }
            // A shrink cuts off what was written beyond it (and the file from there on).
            if transaction.databasePages < size {
                latest = latest.filter { $0.key <= transaction.databasePages }
            }
            size = transaction.databasePages
            smallest = min(smallest, size)
        }
        let pages = latest.sorted { $0.key < $1.key }
        try write(pageSize: pageSize, databasePages: last.databasePages, overwriting: { original in
            // The pages it overwrites, and those a shrink cuts off: a crash mid-write puts them back.
            pages.map(\.key).filter { $0 <= min(original, smallest) } + (smallest < original ? Array((smallest + 1)...original) : [])
        }) { descriptor in
            if lseek(descriptor, 0, SEEK_END) > off_t(smallest) * off_t(pageSize) {
                guard ftruncate(descriptor, off_t(smallest) * off_t(pageSize)) == 0 else {
                    throw SpoolError(.storeUnavailable, "cannot resize \(path): \(String(cString: strerror(errno)))")
                }
            }
            for (index, (number, bytes)) in pages.enumerated() {
                if index == limit { throw Interrupted() }
                try Self.writeAll(descriptor, bytes, at: off_t(number - 1) * off_t(pageSize), path: path)
            }
            guard ftruncate(descriptor, off_t(last.databasePages) * off_t(pageSize)) == 0 else {
                throw SpoolError(.storeUnavailable, "cannot resize \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// What ``apply(_:stoppingAfter:)`` throws where it stops.
    struct Interrupted: Error {}

    /// The change counter of the copy's page 1, which every write moves on by one (0 for an
    /// empty copy): tells a secondary starting after a crash whether its last write finished.
    public func changeCounter() throws -> UInt32 {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SpoolError(.storeUnavailable, "cannot read replica \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard lseek(descriptor, 0, SEEK_END) >= 28 else { return 0 }
        return try Self.read(descriptor, count: 4, at: 24, path: path).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// Replaces the copy's whole content with the file at `source` (a snapshot of `pages`
    /// pages of `pageSize` bytes), as one write.
    public func replace(with source: String, pageSize: Int, pages: UInt32) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw SpoolError(.storeUnavailable, "cannot read \(source): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        try write(pageSize: pageSize, databasePages: pages, overwriting: { pages in pages == 0 ? [] : Array(1...pages) }) { descriptor in
            let chunk = max(1, (1 << 20) / pageSize) * pageSize
            let total = off_t(pages) * off_t(pageSize)
            var offset: off_t = 0
            while offset < total {
                let length = Int(min(off_t(chunk), total - offset))
                let bytes = try [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                    count = pread(input, buffer.baseAddress, length, offset)
                    guard count == length else { throw SpoolError(.storeUnavailable, "\(source) ends before its \(pages) pages") }
                }
                try Self.writeAll(descriptor, bytes, at: offset, path: path)
                offset += off_t(length)
            }
            guard ftruncate(descriptor, total) == 0 else { throw SpoolError(.storeUnavailable, "cannot resize \(path): \(String(cString: strerror(errno)))") }
        }
    }

    /// One write: lock, journal the pages `overwriting` names of the copy's current number of
    /// pages (and page 1), `body`, page 1's header, sync, commit (the journal made cold and
    /// synced, so that the write holds after a power cut once this returns), unlock.
    private func write(pageSize: Int, databasePages: UInt32, overwriting: (UInt32) -> [UInt32], _ body: (Int32) throws -> Void) throws {
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw SpoolError(.storeUnavailable, "cannot write replica \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        try RollbackJournal.lockExclusive(descriptor, path: path)
        defer { RollbackJournal.unlock(descriptor) }
        let size = lseek(descriptor, 0, SEEK_END)
        let first = size >= 100 ? try Self.read(descriptor, count: 100, at: 0, path: path) : nil
        // The copy's own page size, which a snapshot may change.
        let currentPageSize = first.map { Int($0[16]) << 8 | Int($0[17]) }.map { $0 == 1 ? 65_536 : $0 } ?? pageSize
        let originalPages = UInt32(size / off_t(max(currentPageSize, 512)))
        let saved = Array(Set(overwriting(originalPages) + (originalPages > 0 ? [1] : []))).sorted()
        let journal = try RollbackJournal.File(of: path, count: saved.count, originalPages: originalPages, pageSize: currentPageSize)
        var previousFirst: [UInt8]?
        for number in saved {
            let bytes = try Self.read(descriptor, count: currentPageSize, at: off_t(number - 1) * off_t(currentPageSize), path: path)
            if number == 1 { previousFirst = bytes }
            try journal.append(number, bytes)
        }
        try journal.sync()
        try body(descriptor)
        let page = try Self.read(descriptor, count: pageSize, at: 0, path: path)
        try Self.writeAll(descriptor, RollbackJournal.header(page, previous: previousFirst, databasePages: databasePages), at: 0, path: path)
        guard fdatasync(descriptor) == 0 else { throw SpoolError(.storeUnavailable, "cannot sync \(path): \(String(cString: strerror(errno)))") }
        try journal.commit()
    }

    private static func read(_ descriptor: Int32, count: Int, at offset: off_t, path: String) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, got in
            got = 0
            while got < count {
                let result = pread(descriptor, buffer.baseAddress! + got, count - got, offset + off_t(got))
                if result < 0, errno == EINTR { continue }
                guard result > 0 else { throw SpoolError(.storeUnavailable, "\(path) ends or fails at byte \(offset + off_t(got))") }
                got += result
            }
        }
    }

    /// Writes all of `bytes` at `offset` (at the file's position when `nil`).
    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], at offset: off_t?, path: String) throws {
        var written = 0
        try bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let result = offset.map { pwrite(descriptor, raw.baseAddress! + written, raw.count - written, $0 + off_t(written)) }
                    ?? Glibc.write(descriptor, raw.baseAddress! + written, raw.count - written)
                if result < 0, errno == EINTR { continue }
                guard result > 0 else { throw SpoolError(.storeUnavailable, "cannot write \(path): \(String(cString: strerror(errno)))") }
                written += result
            }
        }
    }
}
