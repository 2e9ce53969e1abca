import Foundation
import GRDB
import SpoolCore
@testable import SpoolSQLite
import SpoolTestSupport
import Testing

/// A listing of jobs in a state that holds few jobs reads them from that state's partial index
/// and sorts them, instead of walking every newer job of the table; a state with many walks.
@Suite("SQLite job listings by state")
struct SQLiteListingPlanTests {
    private static func plan(_ store: SQLiteStore, _ query: JobQuery, fromStateIndex: Bool) throws -> [String] {
        let (sql, arguments) = SQLiteStore.listing(query, keys: store.keys, fromStateIndex: fromStateIndex)
        return try store.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(arguments)).map { $0["detail"] as String }
        }
    }

    private static func listed(_ store: SQLiteStore, _ query: JobQuery, fromStateIndex: Bool) throws -> [JobID] {
        let (sql, arguments) = SQLiteStore.listing(query, keys: store.keys, fromStateIndex: fromStateIndex)
        return try store.read { db in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { try SQLiteRows.job($0).id } }
    }

    @Test("a state's few jobs come from its index, the same jobs in the same order as a walk of the table, with or without queue, name and cursor")
    func fewJobsReadTheirIndex() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("spool.db"))
        let now = Date()
        let jobs = try await store.insert((0..<40).map { NewJob(name: "n\($0 % 2)", queue: "q\($0 % 3)", runAt: $0 % 5 == 0 ? now + 3600 : nil) },
                                          now: now).map(\.job)
        let claimed = try await store.claim(ClaimParams(dispatcher: UUID(), limit: 20, now: now))
        let error = AttemptError(attempt: 1, name: "Boom", type: "error", message: "boom", at: now)
        let outcomes: [JobOutcome] = [.completed(result: nil, followUps: []), .failed(error, retryAt: now + 60), .failed(error, retryAt: nil)]
        _ = try await store.finish(claimed.prefix(15).enumerated().map { Finish(id: $1.id, dispatcher: $1.dispatcher!, outcome: outcomes[$0 % 3]) }, now: now)
        _ = try await store.cancel(jobs[1].id, now: now)
        let indexes: [JobState: String] = [.available: "jobs_available_fifo", .running: "jobs_running", .scheduled: "jobs_due",
                                           .retryable: "jobs_due", .completed: "jobs_finished", .discarded: "jobs_finished",
                                           .cancelled: "jobs_finished"]
        for state in JobState.allCases {
            try #require(try store.read { try SQLiteStore.fewJobs(in: state, db: $0) })
            for query in [JobQuery(state: state, limit: 100), JobQuery(queue: "q1", state: state, name: "n1", limit: 100),
                          JobQuery(state: state, limit: 3, after: jobs[30].id)] {
                let plan = try Self.plan(store, query, fromStateIndex: true)
                #expect(plan.contains { $0.hasPrefix("SCAN jobs USING INDEX \(indexes[state]!)") || $0.hasPrefix("SEARCH jobs USING INDEX \(indexes[state]!)") },
                        "\(state): \(plan)")
                #expect(!plan.contains("SCAN jobs"), "\(state): \(plan)")
                let fromIndex = try Self.listed(store, query, fromStateIndex: true)
                #expect(fromIndex == (try Self.listed(store, query, fromStateIndex: false)), "\(state), \(query)")
            }
        }
        #expect(try Self.listed(store, JobQuery(state: .discarded, limit: 100), fromStateIndex: true).count == 5, "every discarded job")
    }

    @Test("a state that holds more than a few jobs is walked from the newest end, as a page of it is found within its first jobs")
    func manyJobsWalk() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("spool.db"))
        _ = try await store.insert((0...SQLiteStore.sortedListingLimit).map { _ in NewJob(name: "n") }, now: Date())
        #expect(try store.read { try SQLiteStore.fewJobs(in: .available, db: $0) } == false)
        #expect(try store.read { try SQLiteStore.fewJobs(in: .discarded, db: $0) } == true)
        #expect(try Self.plan(store, JobQuery(state: .available), fromStateIndex: false) == ["SCAN jobs"])
    }

    @Test("migration 11 gives jobs that ended before end numbers the number 0, so a listing of their state finds them")
    func endsBeforeNumbers() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        var store = try SQLiteStore(path: path)
        let job = try await store.insert([NewJob(name: "old")], now: Date())[0].job
        _ = try await store.cancel(job.id, now: Date())
        await store.close()
        // As a store migrated before end numbers left it: the job ended without one.
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "UPDATE jobs SET end_seq = NULL")
            try db.execute(sql: "DELETE FROM spool_migrations WHERE id = '11-ends-before-numbers'")
        }
        store = try SQLiteStore(path: path)
        #expect(try await store.jobs(JobQuery(state: .cancelled)).jobs.map(\.id) == [job.id])
        #expect(try store.read { try Int.fetchOne($0, sql: "SELECT end_seq FROM jobs") } == 0)
    }
}
