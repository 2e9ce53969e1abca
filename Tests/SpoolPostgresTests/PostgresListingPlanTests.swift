import Foundation
import PostgresNIO
import SpoolCore
@testable import SpoolPostgres
import SpoolTestSupport
import Testing

/// A listing of jobs in a state few jobs are in reads them from that state's partial index,
/// newest first, instead of walking every newer job (or sorting all of a flood of discarded ones).
@Suite("PostgreSQL job listings by state", .enabled(if: PostgresServer.shouldRun))
struct PostgresListingPlanTests {
    @Test("a listing of running, scheduled, retryable, discarded or cancelled jobs reads an index of its state, a flood of discarded jobs in order, with or without queue, name and cursor")
    func unusualStatesReadTheirIndex() async throws {
        let logger = PostgresTestDatabase.testLogger
        let plans = try await PostgresTestDatabase.withFreshSchema { connection, schema in
            // Many completed jobs, a few of each other state, and a flood of discarded ones (a
            // broken job type's), their keys in no order of their states, with the table's statistics.
            _ = try await connection.query("""
                INSERT INTO spool_jobs (seq, id, queue, name, payload, state, priority, attempt, max_attempts, run_at, created_at, finished_at)
                SELECT k.seq, gen_random_uuid()::text, 'q', 'n', '{}',
                       CASE WHEN i > 20000 THEN 'discarded' WHEN i % 1000 = 0 THEN s.state ELSE 'completed' END, 0, 1, 1, i, i, i
                FROM (SELECT i, row_number() OVER (ORDER BY random()) AS seq FROM generate_series(1, 25000) AS i) AS k,
                     LATERAL (SELECT (ARRAY['scheduled', 'running', 'retryable', 'discarded', 'cancelled'])[1 + (i / 1000) % 5] AS state) AS s
                ORDER BY i
                """, logger: logger)
            _ = try await connection.query("ANALYZE spool_jobs", logger: logger)
            var plans: [String: String] = [:]
            for state in [JobState.running, .scheduled, .retryable, .discarded, .cancelled] {
                for query in [JobQuery(state: state), JobQuery(queue: "q", state: state, name: "n", after: JobID.make())] {
                    let statement = PostgresStore.listing(query, schema: PostgresSchema(name: schema))
                    var lines: [String] = []
                    for try await line in try await connection.query(PostgresQuery(unsafeSQL: "EXPLAIN " + statement.sql, binds: statement.binds),
                                                                     logger: logger).decode(String.self) {
                        lines.append(line)
                    }
                    plans["\(state) \(query.queue == nil ? "alone" : "with queue, name and cursor")"] = lines.joined(separator: "\n")
                }
            }
            return plans
        }
        #expect(plans.count == 10)
        // Each reads a partial index of its state's kind (alone, or with the cursor's range of
        // keys), never the whole table from the newest end: the running jobs', the index of unusual states, or, for a few jobs, the
        // due jobs' or finished jobs' index and a sort of those few. The flood of discarded jobs
        // comes from the new index in order, with nothing to sort.
        let kinds: [String: [String]] = ["running": ["spool_jobs_running"],
                                         "scheduled": ["spool_jobs_unusual_states", "spool_jobs_due"],
                                         "retryable": ["spool_jobs_unusual_states", "spool_jobs_due"],
                                         "discarded": ["spool_jobs_unusual_states"],
                                         "cancelled": ["spool_jobs_unusual_states", "spool_jobs_finished"]]
        for (listing, plan) in plans {
            let state = String(listing.prefix { $0 != " " })
            #expect(kinds[state, default: []].contains { plan.contains("using \($0) on") || plan.contains("Bitmap Index Scan on \($0) ") },
                    "\(listing): \(plan)")
            #expect(!plan.contains("Seq Scan") && !plan.contains("Backward using spool_jobs_pkey"), "\(listing): \(plan)")
        }
        #expect(plans.filter { $0.key.hasPrefix("discarded") }.allSatisfy { !$0.value.contains("Sort") }, "\(plans)")
    }
}
