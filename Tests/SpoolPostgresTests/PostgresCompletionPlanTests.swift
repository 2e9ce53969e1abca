import Foundation
import PostgresNIO
import SpoolCore
@testable import SpoolPostgres
import SpoolTestSupport
import Testing

/// Plain completions find their jobs by key (migration 15), whatever the planner believes of the
/// running jobs' index.
@Suite("PostgreSQL completion plans", .enabled(if: PostgresServer.shouldRun))
struct PostgresCompletionPlanTests {
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
}
