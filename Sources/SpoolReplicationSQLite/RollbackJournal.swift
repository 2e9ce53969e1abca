import Foundation
import SpoolCore

/// The pieces of SQLite's rollback-journal format a replica needs to be written while other
/// processes read it with SQLite (https://www.sqlite.org/fileformat2.html, sections 4.1 and 5):
/// the lock bytes readers and writers take, a hot journal of the pages about to be overwritten
/// (which any SQLite connection plays back if the writer dies mid-write), and the header fields
/// of page 1 that make readers drop what they cached.
enum RollbackJournal {
    /// The byte at 1 GiB whose write lock keeps new readers out.
    static let pendingByte: off_t = 0x4000_0000
    /// The byte a writer holds while it works (so readers do not take its journal for a crash's).
    static let reservedByte: off_t = pendingByte + 1
    /// The range readers hold for reading.
    static let sharedFirst: off_t = pendingByte + 2
    static let sharedSize: off_t = 510
    /// The journal's first 8 bytes.
    static let magic: [UInt8] = [0xD9, 0xD5, 0x05, 0xF9, 0x20, 0xA1, 0x63, 0xD7]
    /// The size of the journal's header (its sector size).
    static let sectorSize = 512

    /// Takes SQLite's EXCLUSIVE lock on the open file `descriptor` as a writer of another
    /// process would: RESERVED, then PENDING (no new reader starts), then the readers' range,
    /// waiting for readers that are reading to finish.
    static func lockExclusive(_ descriptor: Int32, path: String) throws {
        try lock(descriptor, F_WRLCK, reservedByte, 1, wait: true, path: path)
        try lock(descriptor, F_WRLCK, pendingByte, 1, wait: true, path: path)
        try lock(descriptor, F_WRLCK, sharedFirst, sharedSize, wait: true, path: path)
    }

    /// Releases every lock taken by ``lockExclusive(_:path:)``.
    static func unlock(_ descriptor: Int32) {
        try? lock(descriptor, F_UNLCK, pendingByte, 2 + sharedSize, wait: false, path: "")
    }

    private static func lock(_ descriptor: Int32, _ type: Int32, _ start: off_t, _ length: off_t, wait: Bool, path: String) throws {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = start
        lock.l_len = length
        while fcntl(descriptor, wait ? F_SETLKW : F_SETLK, &lock) == -1 {
            if errno == EINTR { continue }
            throw SpoolError(.storeUnavailable, "cannot lock \(path) for writing: \(String(cString: strerror(errno)))")
        }
    }

    /// SQLite's journal checksum of a page: the nonce plus every 200th byte from the end.
    static func checksum(_ page: [UInt8], nonce: UInt32) -> UInt32 {
        var sum = nonce
        var index = page.count - 200
        while index > 0 {
            sum &+= UInt32(page[index])
            index -= 200
        }
        return sum
    }

    /// Page 1 made for a copy read in rollback mode after a write: the journal mode bytes say
    /// "legacy" (the copy has no write-ahead log of its own), the change counter moves on from
    /// `previous` (so readers drop their caches) and the size is the database's.
    static func header(_ page: [UInt8], previous: [UInt8]?, databasePages: UInt32) -> [UInt8] {
        var page = page
        guard page.count >= 100 else { return page }
        let old = previous.flatMap { $0.count >= 28 ? $0[24..<28].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } : nil } ?? 0
        let counter = old &+ 1
        page[18] = 1
        page[19] = 1
        page.replaceSubrange(24..<28, with: bigEndian(counter))
        page.replaceSubrange(28..<32, with: bigEndian(databasePages))
        page.replaceSubrange(92..<96, with: bigEndian(counter))
        return page
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    static func appendBigEndian(_ value: UInt32, to out: inout [UInt8]) { out += bigEndian(value) }

    /// A hot journal being written (`PATH-journal`): a header, then each page about to be
    /// overwritten with its current bytes. Once ``sync()`` returns, a crash before ``commit()``
    /// leaves the copy to be restored by the first SQLite connection that opens it.
    ///
    /// The file is kept from one write to the next, as SQLite's PERSIST journal mode keeps it:
    /// each write overwrites it from its start, and the commit zeroes its header (a journal whose
    /// first byte is zero is not hot; SQLite reads nothing else of it) and syncs that, so a write
    /// costs no creation, deletion or sync of the directory. A journal grown past
    /// ``sizeLimit`` (by a snapshot over a large copy) is cut to nothing at its commit instead.
    final class File {
        private let descriptor: Int32
        private let path: String
        private let nonce = UInt32.random(in: 0...UInt32.max)
        private var buffer: [UInt8] = []
        private var offset: off_t = 0
        /// Whether the file was created for this write (its directory is synced with it).
        private let created: Bool

        /// The size past which a committed journal is truncated rather than zeroed.
        static let sizeLimit: off_t = 16 << 20

        /// Starts the journal of the copy at `copy`, for `count` pages of a database of
        /// `originalPages` pages of `pageSize` bytes.
        init(of copy: String, count: Int, originalPages: UInt32, pageSize: Int) throws {
            path = copy + "-journal"
            var descriptor = open(path, O_RDWR | O_CLOEXEC)
            created = descriptor < 0 && errno == ENOENT
            if created { descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
            guard descriptor >= 0 else { throw SpoolError(.storeUnavailable, "cannot write \(path): \(String(cString: strerror(errno)))") }
            self.descriptor = descriptor
            buffer = magic
            for value in [UInt32(count), nonce, originalPages, UInt32(sectorSize), UInt32(pageSize)] { appendBigEndian(value, to: &buffer) }
            buffer += [UInt8](repeating: 0, count: sectorSize - buffer.count)
        }

        deinit { close(descriptor) }

        /// Adds page `number` as it is now.
        func append(_ number: UInt32, _ bytes: [UInt8]) throws {
            appendBigEndian(number, to: &buffer)
            buffer += bytes
            appendBigEndian(checksum(bytes, nonce: nonce), to: &buffer)
            if buffer.count >= 1 << 20 { try flush() }
        }

        /// Writes what is buffered and syncs the journal (and its directory, if it was created).
        func sync() throws {
            try flush()
            try syncData()
            if created { PositionFile.syncDirectory(of: path) }
        }

        /// Makes the journal cold, synced: the write it guarded is committed.
        func commit() throws {
            var status = stat()
            if fstat(descriptor, &status) == 0, status.st_size > Self.sizeLimit {
                guard ftruncate(descriptor, 0) == 0 else { throw SpoolError(.storeUnavailable, "cannot truncate \(path): \(String(cString: strerror(errno)))") }
            } else {
                try ReplicaFile.writeAll(descriptor, [UInt8](repeating: 0, count: 28), at: 0, path: path)
            }
            try syncData()
        }

        private func flush() throws {
            try ReplicaFile.writeAll(descriptor, buffer, at: offset, path: path)
            offset += off_t(buffer.count)
            buffer.removeAll(keepingCapacity: true)
        }

        private func syncData() throws {
            guard fdatasync(descriptor) == 0 else { throw SpoolError(.storeUnavailable, "cannot sync \(path): \(String(cString: strerror(errno)))") }
        }
    }
}
