import Foundation
import PostgresNIO
import SpoolCore
@testable import SpoolPostgres
import SpoolTestSupport
import Testing

/// A job's key (`seq`) is its id's first 64 bits (migration 14): jobs are found by id without
/// an index of the id, a key another process's job took makes the insert try new ids, and jobs
/// stored before the migration keep their numbers and are found all the same.
@Suite("PostgreSQL job keys", .enabled(if: PostgresServer.shouldRun))
struct PostgresJobKeysTests {
    /// Fills keys `count` keys of a millisecond ten minutes ahead with other jobs (as another
    /// process's, which made ids in that millisecond), and makes this process's next ids take
    /// the first of them: the next insert finds its keys taken. Returns the highest key taken.
    private static func takeNextKeys(_ count: Int, schema: String) async throws -> Int64 {
        let (server, database) = try await PostgresTestDatabase.get()
        let millis = UInt64(bitPattern: JobID.make().sequenceKey) >> 16 + 600_000
        let first = Int64(bitPattern: millis << 16 | 0x7000 | 100)
        try server.psql("""
            INSERT INTO \(schema).spool_jobs (seq, id, queue, name, payload, state, priority, attempt, max_attempts, run_at, created_at)
            SELECT \(first) + i, gen_random_uuid()::text, 'other', 'n', '{}', 'completed', 0, 1, 1, 0, 0
            FROM generate_series(1, \(count)) AS i
            """, database: database)
        JobID.skip(past: first)
        return first + Int64(count)
    }

    @Test("an insert whose keys other processes' jobs took inserts every job with new ids past them, plain, with unique keys and in the application's transaction")
    func takenKeysAreSkipped() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let store = try await PostgresStore(url: url, maximumConnections: 2)
        _ = try await store.createQuota("q", size: 5)

        // Each group of jobs finds the next 2,000 keys taken.
        var groups: [(taken: Int64, results: [InsertResult])] = []
        var taken = try await Self.takeNextKeys(2_000, schema: schema)
        let plain = try await store.insert((0..<3).map { NewJob(name: "plain.\($0)") }, now: Date())
        groups.append((taken, plain))

        taken = try await Self.takeNextKeys(2_000, schema: schema)
        let keyed = try await store.insert([NewJob(name: "keyed", uniqueKey: "k"), NewJob(name: "quota", quotas: ["q"])], now: Date())
        groups.append((taken, keyed))

        taken = try await Self.takeNextKeys(2_000, schema: schema)
        let logger = PostgresTestDatabase.testLogger
        groups.append((taken, try await PostgresTestDatabase.withConnection { connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await store.enqueue([NewJob(name: "transactional.0"), NewJob(name: "transactional.1")], on: connection)
            }
        }))

        let inserted = groups.flatMap(\.results)
        #expect(inserted.count == 7 && inserted.allSatisfy(\.inserted), "\(inserted)")
        for (taken, results) in groups {
            #expect(results.allSatisfy { $0.job.id.sequenceKey > taken }, "every job took a new id past the taken keys")
        }
        #expect(plain.map(\.job.id) == plain.map(\.job.id).sorted(), "in the order given")
        for result in inserted {
            let stored = try #require(try await store.job(result.job.id), "\(result.job.name) is found by its id")
            #expect(stored.name == result.job.name && stored.state == .available)
        }
        let (server, database) = try await PostgresTestDatabase.get()
        let rows = try server.psql("""
            SELECT count(*) FILTER (WHERE queue = 'other'), count(*) FILTER (WHERE queue <> 'other'),
                   count(*) FILTER (WHERE queue <> 'other' AND seq = ('x' || translate(left(id, 18), '-', ''))::bit(64)::bigint)
            FROM \(schema).spool_jobs
            """, database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(rows == "6000|7|7", "the other jobs untouched; each new job's key is its id's first half: \(rows)")
        let again = try await store.insert([NewJob(name: "keyed", uniqueKey: "k")], now: Date())
        #expect(again.map(\.inserted) == [false] && again.first?.job.id == keyed[0].job.id, "the unique key's holder still answers")
    }

    @Test("jobs stored before migration 14 keep their numbers: found by id, listed after newer jobs, claimed, completed with and without a result, cancelled and deleted")
    func jobsFromBeforeMigration14() async throws {
        let (server, database) = try await PostgresTestDatabase.get()
        let name = "spool_keys_" + UUID().uuidString.lowercased().prefix(8)
        let schema = PostgresSchema(name: name)
        let url = server.url(database: database, schema: name)
        var setup = ["CREATE SCHEMA \(name)",
                     "CREATE TABLE \(schema.migrationsTable) (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"]
        let before = schema.migrations.prefix { $0.id != "14-keys-from-ids" }
        #expect(before.count == 13)
        for migration in before {
            setup += migration.statements + ["INSERT INTO \(schema.migrationsTable) (id) VALUES ('\(migration.id)')"]
        }
        let holder = UUID()
        let old = (0..<5).map { _ in JobID.make() }
        let states = ["available", "available", "running", "completed", "available"]
        for (index, (id, state)) in zip(old, states).enumerated() {
            let running = state == "running"
            setup.append("""
                INSERT INTO \(schema.jobs) (id, queue, name, payload, state, priority, attempt, max_attempts, run_at, created_at,
                                            dispatcher, lease_until)
                VALUES ('\(id)', 'old', 'old.\(index)', '{}', '\(state)', 0, \(running ? 1 : 0), 3, \(1_000 + index), 1000,
                        \(running ? "'\(holder)'" : "NULL"), \(running ? "\(Int64.max)" : "NULL"))
                """)
        }
        try server.psql(setup.joined(separator: ";\n"), database: database)

        let store = try await PostgresStore(url: url)
        #expect(try await store.schemaStatus().applied == store.schemaStatus().known, "every migration applied")
        let seqs = try server.psql("SELECT string_agg(seq::text, ',' ORDER BY seq) FROM \(schema.jobs)", database: database)
        #expect(seqs.trimmingCharacters(in: .whitespacesAndNewlines) == "1,2,3,4,5", "the old jobs keep their numbers")
        for (id, state) in zip(old, states) {
            #expect(try await store.job(id)?.state.rawValue == state, "\(id) found by its id")
        }
        let new = try await store.insert([NewJob(name: "new", queue: "old")], now: Date())[0].job

        // Newest first, a page at a time: the new job, then the old ones by number.
        var listed: [JobID] = []
        var page = try await store.jobs(JobQuery(limit: 2))
        listed += page.jobs.map(\.id)
        while let cursor = page.nextCursor {
            page = try await store.jobs(JobQuery(limit: 2, after: cursor))
            listed += page.jobs.map(\.id)
        }
        #expect(listed == [new.id] + old.reversed())

        // The held old job completes, the old available ones are claimed in order, then one
        // completes with a result (the statement that joins each completion with its result).
        let step = try await store.finishAndClaim([Finish(id: old[2], dispatcher: holder, outcome: .completed(result: nil, followUps: []))],
                                                  claims: [ClaimParams(dispatcher: holder, queues: ["old"], limit: 2, now: Date())], now: Date())
        #expect(step.applied == [true])
        #expect(step.claimed.map { $0.map(\.id) } == [[old[0], old[1]]])
        let withResult = try await store.finish([Finish(id: old[0], dispatcher: holder,
                                                        outcome: .completed(result: JSONPayload(unchecked: "7"), followUps: []))], now: Date())
        #expect(withResult == [true])
        #expect(try await store.job(old[0])?.result?.text == "7")
        #expect(try await store.job(old[2])?.state == .completed)

        #expect(try await store.cancel(old[4], now: Date()).state == .cancelled)
        #expect(try await store.job(old[4])?.state == .cancelled)
        #expect(try await store.delete([old[3], new.id]) == [old[3]], "the finished old job is deleted, the waiting new one is not")
        #expect(try await store.job(old[3]) == nil)
        #expect(try await store.job(new.id)?.state == .available)
    }
}
