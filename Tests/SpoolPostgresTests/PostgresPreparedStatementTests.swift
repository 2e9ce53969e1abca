import Foundation
import PostgresNIO
import SpoolCore
@testable import SpoolPostgres
import SpoolTestSupport
import Testing

/// The prepared statements pay off only when the server stops planning them: after five
/// executions PostgreSQL keeps a statement's generic plan unless that plan looks costlier than
/// the ones it made for the actual parameters.
@Suite("PostgreSQL prepared statements", .enabled(if: PostgresServer.shouldRun))
struct PostgresPreparedStatementTests {
    @Test("the prepared inserts (full and plain, with their NOTIFY and without) settle on their generic plans for one-job inserts instead of being planned for every job",
          arguments: [false, true], [true, false])
    func insertKeepsItsGenericPlan(plain: Bool, notifying: Bool) async throws {
        let logger = PostgresTestDatabase.testLogger
        let plans = try await PostgresTestDatabase.withFreshSchema { connection, schema in
            // The plans' costs depend on the table's size: give the planner a store that holds jobs.
            let backlog = (0..<50_000).map { NewJob(name: "backlog", payload: JSONPayload(unchecked: "{\"i\":\($0)}")) }
            _ = try await PostgresStore.insert(backlog, now: Date(), schema: PostgresSchema(name: schema), prepared: false,
                                               on: connection, logger: logger)
            try await connection.query("ANALYZE spool_jobs", logger: logger)
            for i in 0..<12 {
                let job = NewJob(name: "one", payload: JSONPayload(unchecked: "{\"i\":\(i)}"))
                let results = plain
                    ? try await PostgresStore.insertPlainly([job], now: Date(), schema: PostgresSchema(name: schema), notifying: notifying,
                                                            on: connection, logger: logger)
                    : try await PostgresStore.insert([job], now: Date(), schema: PostgresSchema(name: schema), prepared: true,
                                                     notifying: notifying, on: connection, logger: logger)
                #expect(results.map(\.inserted) == [true])
            }
            let name = switch (plain, notifying) {
            case (false, true): InsertStatement.name
            case (false, false): QuietInsertStatement.name
            case (true, true): PlainInsertOneStatement.name
            case (true, false): QuietPlainInsertOneStatement.name
            }
            let rows = try await connection.query("""
                SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = \(name)
                """, logger: logger)
            var counts: [(Int, Int)] = []
            for try await row in rows.decode((Int, Int).self) { counts.append(row) }
            return counts
        }
        let (generic, custom) = try #require(plans.first, "the insert was prepared on the connection")
        #expect(custom <= 5, "planned for its parameters \(custom) times")
        #expect(generic >= 7, "ran its generic plan \(generic) times")
    }

    @Test("one-job inserts into an empty store do not scan the jobs table once the statement keeps a plan")
    func insertIntoEmptyStoreDoesNotScan() async throws {
        let logger = PostgresTestDatabase.testLogger
        let (before, after) = try await PostgresTestDatabase.withFreshSchema { connection, schema in
            func insertOne(_ i: Int) async throws {
                _ = try await PostgresStore.insert([NewJob(name: "one", payload: JSONPayload(unchecked: "{\"i\":\(i)}"))], now: Date(),
                                                   schema: PostgresSchema(name: schema), prepared: true, on: connection, logger: logger)
            }
            func sequentialScans() async throws -> Int {
                try await connection.query("SELECT pg_stat_force_next_flush()", logger: logger)
                let rows = try await connection.query("""
                    SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = \(schema) AND relname = 'spool_jobs'
                    """, logger: logger)
                var scans: [Int] = []
                for try await count in rows.decode(Int.self) { scans.append(count) }
                return scans.first ?? -1
            }
            for i in 0..<8 { try await insertOne(i) }   // planned while the table is (nearly) empty
            let before = try await sequentialScans()
            for i in 8..<20 { try await insertOne(i) }
            return (before, try await sequentialScans())
        }
        #expect(before >= 0, "the jobs table has statistics")
        #expect(after == before, "the inserts scanned the jobs table \(after - before) times")
    }

    @Test("completions and claims planned while the store was empty find their rows by index in a later backlog",
          arguments: [AgentPolicy.fifo, .priority])
    func plansMadeOnAnEmptyStoreFindRowsByIndex(policy: AgentPolicy) async throws {
        let logger = PostgresTestDatabase.testLogger
        let backlog = 5_000, claims = 20, limit = 5
        let (claimed, read) = try await PostgresTestDatabase.withFreshSchema { connection, schema in
            try await connection.query("ANALYZE spool_jobs", logger: logger)
            var held: [Job] = []
            func step() async throws -> [Job] {
                let dispatcher = UUID()
                let done = PlainCompletions(held.map { Finish(id: $0.id, dispatcher: $0.dispatcher!, outcome: .completed(result: nil, followUps: [])) }
                                            + [Finish(id: JobID.make(), dispatcher: dispatcher, outcome: .completed(result: nil, followUps: []))])
                let params = ClaimParams(dispatcher: dispatcher, queues: ["backlog"], limit: limit, policy: policy, now: Date())
                let step = try await PostgresStore.finishAndClaim(done, finishedAt: Date(), claim: params, on: connection, logger: logger)
                #expect(step.completed == .only(Set(held.map(\.id.description))), "completed the jobs of the step before (not the unknown one)")
                held = step.jobs
                return step.jobs
            }
            for _ in 0..<8 { #expect(try await step().isEmpty) }   // the plans are made while the store is empty
            let jobs = (0..<backlog).map { NewJob(name: "backlog", payload: JSONPayload(unchecked: "{\"i\":\($0)}"), queue: "backlog",
                                                  priority: $0 % 3) }
            _ = try await PostgresStore.insert(jobs, now: Date(), schema: PostgresSchema(name: schema), prepared: false,
                                               on: connection, logger: logger)
            let before = try await PostgresTestDatabase.jobRowsRead(schema: schema, on: connection)
            var claimed: [Job] = []
            for _ in 0..<claims { claimed += try await step() }
            return (claimed, try await PostgresTestDatabase.jobRowsRead(schema: schema, on: connection) - before)
        }
        let payloads = claimed.map(\.payload.text)
        let expected = policy == .priority ? (0..<backlog).filter { $0 % 3 == 0 }.prefix(claims * limit).map { "{\"i\":\($0)}" }
            : (0..<claims * limit).map { "{\"i\":\($0)}" }
        #expect(payloads == expected, "claimed in policy order")
        #expect(read < backlog, "\(claims) claims of \(limit) jobs read \(read) rows of the jobs table")
    }
}
