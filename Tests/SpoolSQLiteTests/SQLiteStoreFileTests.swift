import Foundation
import GRDB
import SpoolCore
@testable import SpoolSQLite
import SpoolTestSupport
import Testing

@Suite("SQLite store files")
struct SQLiteStoreFileTests {
    @Test("close() stops the store's watcher and checkpointer threads and returns once they ended")
    func closeEndsTheThreads() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("spool.db"))
        _ = store.events.subscribe()
        for _ in 0..<3 { _ = try await store.insert([NewJob(name: "spool.noop")], now: Date()) }
        #expect(store.threadsRunning, "watching and checkpointing")
        await store.close()
        #expect(!store.threadsRunning, "both threads ended")
    }

    @Test("a store path in a missing directory is refused with the directory named")
    func missingDirectory() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("absent/spool.db")
        let error = #expect(throws: SpoolError.self) { try SQLiteStore(path: path) }
        #expect(error?.code == .storeUnavailable)
        #expect(error?.message.contains(directory.path("absent")) == true)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("a file that is not SQLite is refused as damaged and left untouched")
    func notSQLite() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: SpoolError.self) { try SQLiteStore(path: path) }
        #expect(error?.code == .storeCorrupt)
        #expect(error?.message.contains(path) == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }

    @Test("a read-only store file is refused with a clear message")
    func readOnly() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        _ = try SQLiteStore(path: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: path)
        let error = #expect(throws: SpoolError.self) { try SQLiteStore(path: path) }
        #expect(error?.code == .storeReadOnly)
        #expect(error?.message.contains("read-only") == true)
    }

    @Test("a store migrated by a newer Spool is refused, naming the unknown schema")
    func newerSchema() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let store = try SQLiteStore(path: path)
        let job = try await store.insert([NewJob(name: "kept")], now: Date())[0].job
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO spool_migrations (id, applied_at) VALUES ('99-from-the-future', 'later')")
        }
        let error = #expect(throws: SpoolError.self) { try SQLiteStore(path: path) }
        #expect(error?.code == .storeTooNew)
        #expect(error?.message.contains("99-from-the-future") == true)
        #expect(try await store.job(job.id)?.name == "kept")
    }

    @Test("a store written before the priority index changed migrates, keeping its jobs and their priority order")
    func priorityIndexMigration() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let first = try SQLiteStore(path: path)
        let old = try await first.insert([5, 0, -2, 0, 3].map { NewJob(name: "p\($0)", priority: $0) }, now: Date()).map(\.job)
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: """
                DELETE FROM spool_migrations WHERE id = '3-priority-index';
                DROP INDEX jobs_available_priority;
                CREATE INDEX jobs_available_priority ON jobs(priority, run_at, seq) WHERE state = 'available';
                """)
        }
        let store = try SQLiteStore(path: path)
        let index = try await queue.read { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'jobs_available_priority'")
        }
        #expect(index?.contains("priority != 0") == true)
        let claimed = try await store.claim(ClaimParams(dispatcher: UUID(), limit: 5, policy: .priority, now: Date()))
        #expect(claimed.map(\.name) == ["p-2", "p0", "p0", "p3", "p5"])
        #expect(claimed.filter { $0.priority == 0 }.map(\.id) == old.filter { $0.priority == 0 }.map(\.id), "enqueue order within a priority")
    }

    @Test("a store written before row numbers came from ids migrates: its jobs, even two whose ids share their first half, are found, run and listed in order")
    func rowNumberMigration() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        // Ids made before migration 4 had random bits where the counter is now: two jobs of one
        // millisecond could share the first 64 bits.
        let legacy = ["01900000-0000-7abc-8000-000000000001", "01900000-0000-7abc-8000-000000000002",
                      "01900000-0001-7000-8000-000000000003"].map { JobID($0)! }
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "CREATE TABLE spool_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            for migration in SQLiteSchema.migrations.prefix(3) {
                try db.execute(sql: migration.sql)
                try db.execute(sql: "INSERT INTO spool_migrations (id, applied_at) VALUES (?, datetime('now'))", arguments: [migration.id])
            }
            for (index, id) in legacy.enumerated() {
                try db.execute(sql: """
                    INSERT INTO jobs (id, queue, name, payload, state, priority, attempt, max_attempts, run_at, created_at)
                    VALUES (?, 'default', ?, '{}', 'available', 0, 0, 3, 1000000, 1000000)
                    """, arguments: [id.description, "legacy\(index)"])
            }
        }
        let store = try SQLiteStore(path: path)
        for (index, id) in legacy.enumerated() { #expect(try await store.job(id)?.name == "legacy\(index)") }
        let new = try await store.insert([NewJob(name: "new")], now: Date())[0].job
        let rows = try await queue.read { db in
            (try Int64.fetchOne(db, sql: "SELECT seq FROM jobs WHERE id = ?", arguments: [new.id.description]),
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' ORDER BY name"))
        }
        #expect(rows.0 == new.id.sequenceKey, "a new job's row number is its id's first half")
        #expect(rows.1 == ["jobs_available_fifo", "jobs_available_priority", "jobs_due", "jobs_ended", "jobs_finished", "jobs_legacy_id",
                           "jobs_running", "jobs_unique_key"], "no index on id but the legacy one")

        let first = try await store.jobs(JobQuery(limit: 2))
        let rest = try await store.jobs(JobQuery(limit: 2, after: first.nextCursor))
        #expect((first.jobs + rest.jobs).map(\.name) == ["new", "legacy2", "legacy1", "legacy0"], "newest first")

        let dispatcher = UUID()
        let claimed = try await store.claim(ClaimParams(dispatcher: dispatcher, limit: 10, now: Date()))
        #expect(claimed.map(\.name) == ["legacy0", "legacy1", "legacy2", "new"])
        let applied = try await store.finish(claimed.map { Finish(id: $0.id, dispatcher: dispatcher, outcome: .completed(result: nil, followUps: [])) },
                                             now: Date())
        #expect(applied == [true, true, true, true])
        for id in legacy + [new.id] { #expect(try await store.job(id)?.state == .completed) }
    }

    @Test("reopening a store keeps its jobs", arguments: Durability.allCases)
    func reopen(durability: Durability) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let id = try await SQLiteStore(path: path, durability: durability).insert([NewJob(name: "kept")], now: Date())[0].job.id
        let reopened = try SQLiteStore(path: path, durability: durability)
        #expect(try await reopened.job(id)?.name == "kept")
    }
}

@Suite("SQLite group commit and sharing")
struct SQLiteConcurrencyTests {
    @Test("concurrent enqueues from many tasks all land, each once")
    func concurrentInserts() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("spool.db"))
        let ids = try await withThrowingTaskGroup(of: JobID.self) { group in
            for i in 0..<500 {
                group.addTask { try await store.insert([NewJob(name: "n", payload: try JSONPayload(validating: "{\"i\":\(i)}"))], now: Date())[0].job.id }
            }
            return try await group.reduce(into: Set<JobID>()) { $0.insert($1) }
        }
        #expect(ids.count == 500)
        #expect(try await store.queues().first?.counts[.available] == 500)
    }

    @Test("one failing operation in a shared transaction rolls back alone")
    func failureIsolated() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("spool.db"))
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let quotas = i % 10 == 0 ? ["missing"] : []
                    return (try? await store.insert([NewJob(name: "n", quotas: quotas)], now: Date())) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 180)
        #expect(try await store.jobs(JobQuery(limit: 1000)).jobs.count == 180)
    }

    @Test("a write that meets another connection's write lock waits for it, lets reads go on, and lands once it is released",
          arguments: Durability.allCases)
    func waitsForAnotherWriter(durability: Durability) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let store = try SQLiteStore(path: path, durability: durability)
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: path, configuration: configuration)
        try await other.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        let insert = Task { try await store.insert([NewJob(name: "after-lock")], now: Date()) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await store.jobs(JobQuery(limit: 10)).jobs.isEmpty, "nothing lands while the lock is held")
        try await other.writeWithoutTransaction { try $0.execute(sql: "COMMIT") }
        let result = try await insert.value
        #expect(result.map(\.inserted) == [true])
        #expect(try await store.jobs(JobQuery(limit: 10)).jobs.map(\.id) == result.map(\.job.id))
    }

    @Test("a job whose id's first half another process already used takes a new id past that process's")
    func takenRowNumber() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let store = try SQLiteStore(path: path)
        // Another process's clock runs two seconds ahead: it made the ids whose first halves
        // follow `base`, and this process is about to make the same ones.
        let millis = UInt64(bitPattern: JobID.make().sequenceKey) >> 16 + 2_000   // ahead of this process's ids
        let base = Int64(bitPattern: millis << 16 | 0x7100)
        JobID.skip(past: base)
        let taken = (1...20).map { base + Int64($0) }
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            for seq in taken {
                try db.execute(sql: """
                    INSERT INTO jobs (seq, id, queue, name, payload, state, priority, attempt, max_attempts, run_at, created_at)
                    VALUES (?, ?, 'default', 'theirs', '{}', 'available', 0, 0, 3, 0, 0)
                    """, arguments: [seq, UUID().uuidString.lowercased()])
            }
        }
        let mine = try await store.insert([NewJob(name: "mine")], now: Date())[0].job
        #expect(mine.id.sequenceKey > taken.last!)
        #expect(try await store.job(mine.id)?.name == "mine")
        let theirs = try await queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE name = 'theirs'") }
        #expect(theirs == 20)
    }

    @Test("two store instances on one file never hand out the same job")
    func sharedFile() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let first = try SQLiteStore(path: path), second = try SQLiteStore(path: path)
        _ = try await first.insert((0..<400).map { _ in NewJob(name: "n") }, now: Date())
        let a = UUID(), b = UUID()
        async let fromFirst = drain(first, as: a)
        async let fromSecond = drain(second, as: b)
        let (one, two) = try await (fromFirst, fromSecond)
        #expect(one.count + two.count == 400)
        #expect(Set(one).isDisjoint(with: Set(two)))
    }

    private func drain(_ store: SQLiteStore, as dispatcher: UUID) async throws -> [JobID] {
        var claimed: [JobID] = []
        while true {
            let jobs = try await store.claim(ClaimParams(dispatcher: dispatcher, limit: 7, now: Date()))
            if jobs.isEmpty { return claimed }
            claimed += jobs.map(\.id)
        }
    }
}

@Suite("SQLite store wake-ups across connections")
struct SQLiteWakeTests {
    @Test("a subscriber hears of jobs committed through another store instance on the same file, as from another process")
    func otherWriterWakes() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let listener = try SQLiteStore(path: path)
        let writer = try SQLiteStore(path: path)
        let events = listener.events.subscribe()
        let heard = Task {
            for await event in events {
                if case .jobsAvailable = event { return true }
            }
            return false
        }
        let stopWaiting = Task {
            try await Task.sleep(for: .seconds(30))
            heard.cancel()
        }
        _ = try await writer.insert([NewJob(name: "spool.noop")], now: Date())
        #expect(await heard.value, "no wake-up within 30 seconds of another connection's commit")
        stopWaiting.cancel()
    }
}
