import Foundation
import SpoolCore
import SpoolReplication

/// Captures every committed transaction of an SQLite file in WAL mode, whichever process wrote
/// it, by reading the file's write-ahead log (`-wal`) as it grows.
///
/// SQLite restarts its log (writes new frames over old ones) only when every frame was copied
/// back into the file and no reader still reads from the log. The capture keeps a read
/// transaction open at all times, so the log cannot restart under it while other processes
/// write; ``checkpoint()`` lets it restart at a moment the capture chose: with the write lock
/// held (no process can commit), it reads the log to its end, releases its read, copies the log
/// back, releases the lock, and writes one row of its own (`spool_replication_seq`), which
/// restarts the log if no other writer did first, and whose frame its new read then keeps in the
/// log. A restart is accepted only when the copy was whole (so every frame of the old log had
/// been read); any other (a process copying the log back and restarting it on its own between two
/// reads) is thrown as ``WALCaptureError/logRestartedUnseen``, never passed over. Processes
/// writing a replicated file should leave checkpoints to the capture (Spool's stores do, once
/// the file has `spool_replication_seq`); one that does not makes that error likely.
///
/// The commits found by one read of the log make one transaction (``merged(_:after:)``, which
/// keeps a commit that shrinks the database last in its transaction); each transaction is
/// numbered from the capture's starting position and carries the running checksum of the
/// history (``ReplicationTransaction/checksum(after:)``). Not for concurrent use: one task polls.
public final class WALCapture: @unchecked Sendable {
    /// The store file.
    public let path: String
    /// The last transaction captured.
    public private(set) var position: ReplicationPosition
    /// How many times the log restarted under the capture (each after it was read whole).
    public private(set) var logRestarts = 0
    /// Whether transactions were captured since the last checkpoint: an idle store is not
    /// checkpointed again (the capture's own row would make a transaction each time).
    public private(set) var capturedSinceCheckpoint = false
    /// The read that holds the log (see the type's discussion).
    private var reader: SQLiteHandle
    /// The read that takes over from ``reader`` when the hold moves on (``copyBackUnlocked()``).
    private var spare: SQLiteHandle
    private let writer: SQLiteHandle
    private let checkpointer: SQLiteHandle
    private let log: FileHandle
    private var frames: WALReader?
    private var pending: [ReplicationTransaction] = []
    /// The database's size in pages after the last commit captured (`nil` before the first).
    private var databasePages: UInt32?

    /// Starts capturing the file at `path` (created, in WAL mode, when missing), numbering
    /// transactions after `position`, from the log's first frame: the file's content before it
    /// is not captured (a copy gets it through ``snapshot()``).
    public init(path: String, position: ReplicationPosition = .empty) throws {
        self.path = path
        self.position = position
        writer = try SQLiteHandle(path: path, create: true)
        let mode = try writer.text("PRAGMA journal_mode = WAL")
        guard mode?.lowercased() == "wal" else {
            throw SpoolError(.invalidState, "replication needs \(path) in WAL mode; it is in \(mode ?? "an unknown") mode")
        }
        try writer.execute("CREATE TABLE IF NOT EXISTS spool_replication_seq (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)")
        reader = try SQLiteHandle(path: path)
        spare = try SQLiteHandle(path: path)
        checkpointer = try SQLiteHandle(path: path)
        try Self.beginRead(reader)
        guard let log = FileHandle(forReadingAtPath: path + "-wal") else {
            throw SpoolError(.storeUnavailable, "cannot read the write-ahead log of \(path)")
        }
        self.log = log
    }

    deinit { try? log.close() }

    /// The transactions committed since the last call, in commit order.
    public func poll() throws -> [ReplicationTransaction] {
        let taken = pending
        pending = []
        return taken + (try read())
    }

    private func read() throws -> [ReplicationTransaction] {
        let header = try readHeader()
        guard let header else { return [] }
        if let frames, frames.header != header {
            throw WALCaptureError.logRestartedUnseen(path: path, seen: "salt-1 \(frames.header.salts.0) became \(header.salts.0) between reads")
        }
        if frames == nil { frames = WALReader(header: header) }
        // In pieces, up to the first frame that is not this generation's: a log that restarted
        // keeps its old length, and its stale frames need not be read every few milliseconds.
        // The first piece is small (a poll every few milliseconds finds a few commits, or none); each
        // piece that held only this generation's frames is followed by one twice as large.
        var found: [WALTransaction] = []
        var length = 64 << 10
        while true {
            let bytes = try read(from: frames!.offset, count: length)
            let more = frames!.transactions(in: bytes)
            found += more
            if frames!.reachedEnd || bytes.count < length { break }
            // A piece without a whole transaction must grow; otherwise up to 4 MB a read.
            length = more.isEmpty ? length * 2 : min(length * 2, 4 << 20)
        }
        let transactions = Self.merged(found, after: databasePages).map { next($0.pages, databasePages: $0.databasePages) }
        if let last = found.last {
            capturedSinceCheckpoint = true
            databasePages = last.databasePages
        }
        return transactions
    }

    /// The commits of one read of the log, as few transactions as give a copy the same bytes
    /// applied one by one: consecutive commits become one holding the last version of each page
    /// they wrote and the last one's size, up to and including a commit that shrinks the
    /// database (from its size after `previous`, the commit before; `nil`: unknown, taken as a
    /// shrink). A shrink ends a merge because applying a transaction cuts the file to its size:
    /// a page cut off and not written again must not come back from a commit before the cut.
    /// Merging is what keeps replication's volume down under a steady stream of commits: they
    /// rewrite the same upper pages of the tables and indexes, which then travel, are hashed and
    /// are written once per read instead of once per commit. A merge also ends once it holds
    /// `maximumBytes` of pages, so that no merge is larger than the largest of its commits or
    /// that size (a secondary refuses a transaction beyond its own limit, 1 GB by default).
    static func merged(_ commits: [WALTransaction], after previous: UInt32?, maximumBytes: Int = 64 << 20) -> [WALTransaction] {
        var merged: [WALTransaction] = []
        var slots: [UInt32: Int] = [:]   // page number → index in merged.last's pages
        var bytes = 0                    // of merged.last's pages
        var open = false                 // whether merged.last takes the next commit
        var size = previous
        for commit in commits {
            if !open {
                merged.append(WALTransaction(pages: [], databasePages: commit.databasePages))
                slots.removeAll(keepingCapacity: true)
                bytes = 0
            }
            let last = merged.count - 1
            for page in commit.pages {
                if let slot = slots[page.number] {
                    merged[last].pages[slot] = page
                } else {
                    slots[page.number] = merged[last].pages.count
                    merged[last].pages.append(page)
                    bytes += page.bytes.count
                }
            }
            merged[last].databasePages = commit.databasePages
            open = bytes < maximumBytes && size.map { commit.databasePages >= $0 } ?? false
            size = commit.databasePages
        }
        return merged
    }

    /// The next transaction of the history: numbered, its checksum chained.
    private func next(_ pages: [ReplicationTransaction.Page], databasePages: UInt32) -> ReplicationTransaction {
        var transaction = ReplicationTransaction(number: position.transaction + 1, pages: pages, databasePages: databasePages, checksum: [],
                                                 capturedAt: UInt64(Date().timeIntervalSince1970 * 1_000_000))
        transaction.checksum = transaction.checksum(after: position.checksum)
        position = ReplicationPosition(transaction: transaction.number, checksum: transaction.checksum)
        return transaction
    }

    /// The store as it stands at the capture's position, held for reading (see
    /// ``StoreSnapshot``), and the transactions captured on the way to it (to be published
    /// before the snapshot is handed out). Under the write lock the log is read through and
    /// copied back whole (tried again while a reader of another process holds part of it), the
    /// snapshot's read begins, and the log then restarts as after ``checkpoint()``.
    public func snapshot() throws -> (captured: [ReplicationTransaction], snapshot: StoreSnapshot) {
        for _ in 0..<200 {
            try takeWriteLock()
            let before: WALReader.Header?
            let snapshot: StoreSnapshot
            do {
                pending += try read()
                before = frames?.header
                try reader.execute("COMMIT")
                let copied = try checkpointer.integers("PRAGMA wal_checkpoint(PASSIVE)")
                guard copied.count == 3, copied[0] == 0, copied[1] == copied[2] else {
                    try writer.execute("ROLLBACK")
                    try readAgain(after: before, copiedWhole: false)
                    Thread.sleep(forTimeInterval: 0.01)
                    continue
                }
                snapshot = try StoreSnapshot(path: path, position: position)
                try writer.execute("COMMIT")
                try writeOwnRow()
            } catch {
                try? writer.execute("ROLLBACK")
                try? Self.beginRead(reader)
                throw error
            }
            try readAgain(after: before, copiedWhole: true)
            return (try poll(), snapshot)
        }
        throw SpoolError(.invalidState, "cannot take a snapshot of \(path): readers in other processes keep its log from being copied back")
    }

    /// Captures what is left in the log, then lets the log restart (see the type's
    /// discussion); returns the transactions captured, its own write last when the log went on
    /// without restarting (otherwise that write is the first of the next ``poll()``).
    public func checkpoint() throws -> [ReplicationTransaction] {
        defer { capturedSinceCheckpoint = false }
        copyBackUnlocked()
        try takeWriteLock()
        var captured: [ReplicationTransaction]
        let before: WALReader.Header?
        let whole: Bool
        do {
            captured = try poll()
            before = frames?.header
            try reader.execute("COMMIT")
            let copied = try checkpointer.integers("PRAGMA wal_checkpoint(PASSIVE)")
            whole = copied.count == 3 && copied[1] == copied[2]
            try writer.execute("COMMIT")
            try writeOwnRow()
        } catch {
            try? writer.execute("ROLLBACK")
            try? Self.beginRead(reader)
            throw error
        }
        try readAgain(after: before, copiedWhole: whole)
        return captured + (try poll())
    }

    /// Copies the log back as far as it reaches now while writers go on, so that the copy under
    /// the write lock has only what was committed meanwhile (writers wait a moment, not for the
    /// whole copy). A second read begins, holding the log where it ends now, before the first
    /// ends, so the log is held at every moment; a PASSIVE checkpoint then copies back the frames
    /// before that hold and never restarts the log. (The second read holds a frame of the log, not
    /// the file alone, because outside ``checkpoint()`` the capture's own row keeps the log ahead of
    /// what was copied back.)
    /// Best effort: when a step fails, the log stays held by whichever read holds it and the
    /// checkpoint under the write lock copies everything back, as it would without this step.
    private func copyBackUnlocked() {
        do {
            try Self.beginRead(spare)
        } catch {
            try? spare.execute("ROLLBACK")
            return
        }
        do {
            try reader.execute("COMMIT")
        } catch {
            try? spare.execute("ROLLBACK")
            return
        }
        swap(&reader, &spare)
        _ = try? checkpointer.integers("PRAGMA wal_checkpoint(PASSIVE)")
    }

    /// Takes the store's write lock (no process can commit until it is released), or throws
    /// ``WALCaptureError/busy(path:)`` having changed nothing.
    private func takeWriteLock() throws {
        do {
            try writer.execute("BEGIN IMMEDIATE")
        } catch {
            throw WALCaptureError.busy(path: path, reason: "\(error)")
        }
    }

    /// The capture's own write, begun once the log was copied back: it restarts the log when the
    /// copy was whole and no one reads from it, and its frame keeps the next read on the log.
    private func writeOwnRow() throws {
        try writer.execute("""
            BEGIN IMMEDIATE;
            INSERT INTO spool_replication_seq (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1;
            COMMIT
            """)
    }

    /// Whether the log whose header was `before` restarted exactly once to give `now`. Every
    /// restart adds one to the header's salt-1, whichever connection restarts the log; its
    /// "checkpoint sequence" is a count each connection keeps of its own restarts, so a restart
    /// by another writer (which the capture's own row lets happen first) can repeat the number
    /// the capture's last restart wrote.
    static func restartedOnce(from before: WALReader.Header, to now: WALReader.Header) -> Bool {
        now.salts.0 == before.salts.0 &+ 1
    }

    /// Holds the log again with a new read and follows a restart since `before`: accepted only
    /// when the copy back was whole (every frame of the old log had been read) and it restarted once.
    private func readAgain(after before: WALReader.Header?, copiedWhole: Bool) throws {
        try Self.beginRead(reader)
        guard let now = try readHeader() else {
            throw WALCaptureError.logRestartedUnseen(path: path, seen: "the log has no header after the capture's own write")
        }
        guard let before, now != before else { return }
        guard copiedWhole, Self.restartedOnce(from: before, to: now) else {
            throw WALCaptureError.logRestartedUnseen(path: path, seen: """
                salt-1 \(before.salts.0) became \(now.salts.0) across a checkpoint that copied \
                \(copiedWhole ? "the whole log" : "part of the log")
                """)
        }
        frames = WALReader(header: now)
        logRestarts += 1
    }

    /// At most `length` bytes of the log from `offset`, fewer at its end, read straight into an
    /// array (this runs every few milliseconds).
    private func read(from offset: Int, count length: Int) throws -> [UInt8] {
        var status = stat()
        guard fstat(log.fileDescriptor, &status) == 0 else {
            throw SpoolError(.storeUnavailable, "cannot read \(path)-wal: \(String(cString: strerror(errno)))")
        }
        let length = min(length, Int(status.st_size) - offset)
        guard length > 0 else { return [] }
        return try [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            count = 0
            while count < length {
                let got = pread(log.fileDescriptor, buffer.baseAddress! + count, length - count, off_t(offset + count))
                if got < 0, errno == EINTR { continue }
                guard got >= 0 else { throw SpoolError(.storeUnavailable, "cannot read \(path)-wal: \(String(cString: strerror(errno)))") }
                if got == 0 { break }   // the log was cut short meanwhile: what was read is all there is
                count += got
            }
        }
    }

    private func readHeader() throws -> WALReader.Header? {
        try log.seek(toOffset: 0)
        return WALReader.header(try log.read(upToCount: WALReader.headerSize) ?? Data())
    }

    private static func beginRead(_ reader: SQLiteHandle) throws {
        try reader.execute("BEGIN")
        _ = try reader.text("SELECT count(*) FROM spool_replication_seq")
    }
}

/// Why a capture cannot go on from where it is.
public enum WALCaptureError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The log restarted while frames of it may not have been captured: the history must start
    /// again from a snapshot.
    case logRestartedUnseen(path: String, seen: String)
    /// The write lock could not be taken (other processes held it throughout); nothing was
    /// changed, and the checkpoint or snapshot can be tried again later.
    case busy(path: String, reason: String)

    public var description: String {
        switch self {
        case let .logRestartedUnseen(path, seen):
            "the write-ahead log of \(path) restarted where the capture could not see it (\(seen)); secondaries need a snapshot"
        case let .busy(path, reason):
            "the capture could not take the write lock of \(path): \(reason)"
        }
    }
}
