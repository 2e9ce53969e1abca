import Foundation
import GRDB
import SpoolCore
import Synchronization

/// How much a committed write survives.
public enum Durability: String, Sendable, CaseIterable {
    /// Survives a killed process; a power loss may lose the last commits (`synchronous=NORMAL`).
    case normal
    /// Survives a power loss: every commit is synced to disk (`synchronous=FULL`).
    case full
}

/// The embedded store: one SQLite file in WAL mode, shared by any number of processes.
///
/// Writes from one process are group-committed: concurrent enqueues, claims and completions
/// share a transaction. Reads run on a pool of reader connections alongside the writer.
public final class SQLiteStore: JobStore {
    /// The path of the store file.
    public let path: String
    /// The durability of commits.
    public let durability: Durability
    public let limits: JobLimits

    /// In-process notifications of what this store committed. Subscribing also wakes on
    /// commits by other processes sharing the file (watched with inotify on Linux), announced
    /// as `jobsAvailable` for every queue; after `followEndsEverywhere()`, each such wake also
    /// announces the jobs that ended since the last (``JobEnds``).
    public var events: StoreEvents {
        watcher.start()
        return hub
    }

    let hub: StoreEvents
    /// What ``TableQueue`` endpoints on this instance published, for their waiting receives.
    let publishSignals = PublishSignals()
    let pool: DatabasePool
    let writer: WriteBatcher
    /// How jobs are found by id in this store's file.
    let keys: JobKeys
    private let watcher: ChangeWatcher
    private let checkpointer: Checkpointer
    /// Why every write is refused: the file is a copy kept by `spool secondary`.
    private let writesRefused: SpoolError?
    /// What an enqueue or a job's end waits for once committed (``acknowledgeAfter(_:)``).
    private let acknowledgement = Mutex<(@Sendable () async throws -> Void)?>(nil)

    /// The primary a copy kept by `spool secondary` follows (`HOST:PORT`), or `nil` when the
    /// store is its own: such a store is opened read-only.
    public let follows: String?

    /// Opens (creating when missing) the store at `path` and brings its schema up to date.
    ///
    /// Throws a ``SpoolError`` naming the path and the problem when the directory is missing,
    /// the file is read-only, damaged or not SQLite, or was written by a newer Spool.
    ///
    /// A copy kept by `spool secondary` (it has `PATH-replication-follows`) opens read-only:
    /// every read works, and every write throws an error naming the primary to write to.
    public init(path: String, durability: Durability = .normal, limits: JobLimits = .default) throws {
        self.path = path
        self.durability = durability
        self.limits = limits
        try SQLiteStore.checkLocation(path)
        follows = SQLiteStore.primaryFollowed(by: path)
        writesRefused = follows.map {
            SpoolError(.storeReadOnly, "store \(path) is a copy kept by spool secondary, following the primary at \($0): write there, or make this copy the primary with spool promote")
        }
        var configuration = Configuration()
        configuration.readonly = follows != nil
        let lockWaiting = LockWaiting()
        configuration.busyMode = .callback { tries in lockWaiting.allowed && SQLiteStore.waitForLock(tries) }
        configuration.maximumReaderCount = 4
        configuration.label = "spool"
        let synchronous = durability == .full ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            // Before the pool switches a new file to WAL, which fixes its header: set later, the
            // new file would keep auto_vacuum NONE and be rewritten by VACUUM when next opened.
            if !db.configuration.readonly { try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL") }
            try db.execute(sql: """
                PRAGMA synchronous = \(synchronous);
                PRAGMA cache_size = -16384;
                PRAGMA mmap_size = 268435456;
                PRAGMA wal_autocheckpoint = \(Checkpointer.fallbackPages)
                """)
        }
        pool = try SQLiteStore.openPool(path: path, configuration: configuration, migrate: follows == nil)
        do {
            keys = try pool.read { try JobKeys($0) }
        } catch {
            throw SQLiteStore.translate(error, path: path)
        }
        checkpointer = Checkpointer(path: path, synchronous: synchronous)
        writer = WriteBatcher(writer: pool, checkpointer: checkpointer, lockWaiting: lockWaiting,
                              writesInline: durability == .normal)
        let pool = self.pool
        let follower = EndFollower { cursor in try pool.read { try JobEnds.after(cursor, db: $0) } }
        hub = StoreEvents(firstSubscribed: { _ in }, startFollowing: { _ in
            follower.start(from: (try? pool.read(JobEnds.current)) ?? 0)
        }, stopFollowing: { follower.stop() })
        watcher = ChangeWatcher(watching: follows == nil ? path + "-wal" : path, events: hub, follower: follower)
    }

    deinit {
        watcher.stop()
        checkpointer.stop()
    }

    /// Ends the store: stops its change watcher and checkpointer threads, waits until they have
    /// ended (a quarter second at most), and closes its connections. Do not use it afterwards.
    /// Dropping the last reference stops the threads too, without waiting.
    public func close() async {
        watcher.stop()
        checkpointer.stop()
        let deadline = ContinuousClock.now + .seconds(2)
        while watcher.isRunning || checkpointer.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        try? pool.close()
    }

    /// Whether the store's own threads (change watcher, checkpointer) are running.
    var threadsRunning: Bool { watcher.isRunning || checkpointer.isRunning }

    /// Waits for another process's write lock in short, even steps (0.1 ms growing to 1 ms, about
    /// 30 s in all) so that waiting processes take turns; SQLite's own busy timeout backs off to
    /// 100 ms steps and starves the process that waits longest.
    private static let waitForLock: Database.BusyCallback = { tries in
        guard tries < 30_000 else { return false }
        usleep(useconds_t(min(100 + tries * 20, 1000)))
        return true
    }

    /// Opens the pool and migrates the schema. Processes opening a fresh file together can meet
    /// `SQLITE_BUSY` while one of them switches it to WAL or migrates it, where SQLite does not
    /// call the busy handler; those attempts are retried for up to ten seconds.
    private static func openPool(path: String, configuration: Configuration, migrate: Bool) throws -> DatabasePool {
        let deadline = Date().addingTimeInterval(10)
        var delay = 0.01
        while true {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                if migrate {
                    try SQLiteSchema.useIncrementalVacuum(pool)
                    try SQLiteSchema.migrate(pool, path: path)
                } else {
                    try SQLiteSchema.check(pool, path: path)
                }
                return pool
            } catch let error as SpoolError {
                throw error
            } catch let error as DatabaseError where (error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED) && Date() < deadline {
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 0.2)
            } catch {
                throw SQLiteStore.translate(error, path: path)
            }
        }
    }

    /// The primary whose copy the file at `path` is (`PATH-replication-follows`, written by
    /// `spool secondary`), if it is one.
    static func primaryFollowed(by path: String) -> String? {
        guard let text = try? String(contentsOfFile: path + "-replication-follows", encoding: .utf8) else { return nil }
        let address = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return address.isEmpty ? "its primary" : address
    }

    private static func checkLocation(_ path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SpoolError(.storeUnavailable, "cannot open store \(path): directory \(directory) does not exist")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard !isDirectory.boolValue else {
                throw SpoolError(.storeUnavailable, "cannot open store \(path): it is a directory")
            }
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let mode = (attributes?[.posixPermissions] as? NSNumber)?.intValue ?? 0o644
            guard mode & 0o222 != 0, FileManager.default.isWritableFile(atPath: path) else {
                throw SpoolError(.storeReadOnly, "cannot open store \(path): the file is read-only (mode \(String(mode, radix: 8)))")
            }
        }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw SpoolError(.storeReadOnly, "cannot open store \(path): directory \(directory) is not writable")
        }
    }

    /// Maps SQLite's errors onto ``SpoolError`` with the store's path.
    static func translate(_ error: Error, path: String? = nil) -> Error {
        guard let error = error as? DatabaseError else { return error }
        let place = path.map { "store \($0)" } ?? "store"
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return SpoolError(.storeCorrupt, "\(place) is damaged or not a Spool store: \(error.message ?? "file is not a database")")
        case .SQLITE_READONLY:
            return SpoolError(.storeReadOnly, "\(place) is read-only: \(error.message ?? "attempt to write a readonly database")")
        case .SQLITE_CANTOPEN:
            return SpoolError(.storeUnavailable, "cannot open \(place): \(error.message ?? "unable to open database file")")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return SpoolError(.storeUnavailable, "\(place) stayed locked by another process: \(error.message ?? "database is locked")")
        default:
            return SpoolError(.storeUnavailable, "\(place) failed: \(error.message ?? "\(error)")")
        }
    }

    /// Runs a read on one of the reader connections.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch let error as SpoolError {
            throw error
        } catch {
            throw SQLiteStore.translate(error, path: path)
        }
    }

    /// Makes every enqueue and every job's end wait, once committed, for `barrier` before it
    /// returns: with `spool serve --replicate --sync N`, until N secondaries have the commit.
    /// An enqueue throws what the barrier throws (the jobs are committed here, but not where the
    /// caller was promised); a job's end waits and goes on (it is committed, and the dispatcher
    /// must not take it back).
    public func acknowledgeAfter(_ barrier: @escaping @Sendable () async throws -> Void) {
        acknowledgement.withLock { $0 = barrier }
    }

    /// Waits for the acknowledgement barrier, if any.
    func acknowledged() async throws {
        if let barrier = acknowledgement.withLock({ $0 }) { try await barrier() }
    }

    /// Runs a write in the next group commit.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        if let writesRefused { throw writesRefused }
        return try await writer.write(body)
    }
}
