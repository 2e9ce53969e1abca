import Foundation
import PostgresNIO
import SpoolCore
@testable import SpoolPostgres
import SpoolTestSupport
import Testing

/// A dispatcher's step in one call: plain completions find their jobs by key (migration 15),
/// whatever the planner believes of the running jobs' index, and the step of earlier workers
/// still answers after migration 16 gave the step a function of its own.
@Suite("PostgreSQL dispatcher step", .enabled(if: PostgresServer.shouldRun))
struct PostgresDispatcherStepTests {
    @Test("completions of a few jobs read those jobs, not every job their dispatcher holds, with plans made on an empty store")
    func fewCompletionsReadFewRows() async throws {
        let logger = PostgresTestDatabase.testLogger
        let held = 500, calls = 10, perCall = 5
        let read = try await PostgresTestDatabase.withFreshSchema { connection, schema in
            try await connection.query("ANALYZE spool_jobs", logger: logger)
            let dispatcher = UUID()
            func complete(_ ids: [JobID]) async throws -> PostgresStore.Step {
                let done = PlainCompletions(ids.map { Finish(id: $0, dispatcher: dispatcher, outcome: .completed(result: nil, followUps: [])) })
                return try await PostgresStore.finishAndClaim(done, finishedAt: Date(), claim: nil, on: connection, logger: logger)
            }
            for _ in 0..<8 { _ = try await complete((0..<perCall).map { _ in JobID.make() }) }   // planned on an empty store
            let jobs = (0..<held).map { NewJob(name: "held", payload: JSONPayload(unchecked: "{\"i\":\($0)}"), queue: "held") }
            _ = try await PostgresStore.insert(jobs, now: Date(), schema: PostgresSchema(name: schema), prepared: false,
                                               on: connection, logger: logger)
            let claim = ClaimParams(dispatcher: dispatcher, queues: ["held"], limit: held, policy: .fifo, now: Date())
            let running = try await PostgresStore.finishAndClaim(.none, finishedAt: Date(), claim: claim, on: connection, logger: logger).jobs
            #expect(running.count == held, "the dispatcher holds every job")
            let before = try await PostgresTestDatabase.jobRowsRead(schema: schema, on: connection)
            for call in 0..<calls {
                let step = try await complete(running[(call * perCall)..<((call + 1) * perCall)].map(\.id))
                #expect(step.completed == .all, "call \(call) completed its jobs")
            }
            return try await PostgresTestDatabase.jobRowsRead(schema: schema, on: connection) - before
        }
        #expect(read < held, "\(calls) completions of \(perCall) jobs each read \(read) rows of the jobs table")
    }

    @Test("the function that workers of migration 15 call still claims and completes after migration 16")
    func earlierWorkersStepStillAnswers() async throws {
        let logger = PostgresTestDatabase.testLogger
        let dispatcher = UUID(), now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let (claimed, completed) = try await PostgresTestDatabase.withFreshSchema { connection, schema in
            let jobs = (0..<3).map { NewJob(name: "earlier", payload: JSONPayload(unchecked: "{\"i\":\($0)}"), queue: "earlier") }
            _ = try await PostgresStore.insert(jobs, now: Date(), schema: PostgresSchema(name: schema), prepared: false,
                                               on: connection, logger: logger)
            // As a worker of migration 15 calls it: no completions, a claim of two jobs.
            var claimed: [(id: String, state: String, holder: UUID?)] = []
            let claim = try await connection.query("""
                SELECT id, state, dispatcher FROM spool_finish_and_claim(\(now), '{}'::text[], '{}'::uuid[], '{}'::text[], '{}'::boolean[],
                    \(now), 2, \(dispatcher), \(now + 30_000_000), \(["earlier"]), false, NULL::bigint[], '{}'::bigint[])
                WHERE id IS NOT NULL
                """, logger: logger)
            for try await row in claim.decode((String, String, UUID?).self) { claimed.append(row) }
            // Then their completions, by id and key.
            let ids = claimed.map(\.id), keys = ids.compactMap { JobID($0)?.sequenceKey }
            let complete = try await connection.query("""
                SELECT completed FROM spool_finish_and_claim(\(now), \(ids), \(Array(repeating: dispatcher, count: ids.count)),
                    \(Array(repeating: "", count: ids.count)), \(Array(repeating: false, count: ids.count)), 0, 0, NULL::uuid, 0,
                    NULL::text[], false, NULL::bigint[], \(keys))
                """, logger: logger)
            var completed: [String] = []
            for try await ids in complete.decode([String].self) { completed += ids }
            return (claimed, completed)
        }
        #expect(claimed.count == 2 && claimed.allSatisfy { $0.state == "running" && $0.holder == dispatcher }, "claimed: \(claimed)")
        #expect(Set(completed) == Set(claimed.map(\.id)), "completed the jobs it claimed")
    }
}
