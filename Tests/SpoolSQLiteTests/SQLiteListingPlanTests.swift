import Foundation
import GRDB
import SpoolCore
@testable import SpoolSQLite
import SpoolTestSupport
import Testing

/// A listing of jobs in a state few jobs are in reads them from an index, newest first, instead
/// of walking every newer job of the table.
@Suite("SQLite job listings by state")
struct SQLiteListingPlanTests {
    @Test("a listing of running, scheduled, retryable, discarded or cancelled jobs reads an index, never the whole table, with or without queue, name and cursor")
    func unusualStatesReadAnIndex() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("spool.db"))
        let after = try await store.insert([NewJob(name: "n")], now: Date())[0].job.id
        func plan(_ query: JobQuery) throws -> [String] {
            let (sql, arguments) = SQLiteStore.listing(query, keys: store.keys)
            return try store.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(arguments)).map { $0["detail"] as String }
            }
        }
        for state in [JobState.running, .scheduled, .retryable, .discarded, .cancelled] {
            for query in [JobQuery(state: state), JobQuery(queue: "q", state: state, name: "n", after: after)] {
                let plan = try plan(query)
                let index = state == .running ? "jobs_running" : "jobs_unusual_states"
                #expect(plan.contains { $0.contains("USING INDEX \(index)") || $0.contains("USING COVERING INDEX \(index)") }, "\(state): \(plan)")
                #expect(!plan.contains("SCAN jobs"), "\(state): \(plan)")
            }
        }
        // Where most jobs are, the listing walks the table from its newest end, as before.
        #expect(try plan(JobQuery(state: .completed)) == ["SCAN jobs"])
    }
}
