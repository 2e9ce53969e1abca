import Foundation
import SpoolCore
import SpoolPostgres
import SpoolTestSupport
import Testing

@Suite("PostgreSQL job counts", .enabled(if: PostgresServer.shouldRun))
struct PostgresJobCountTests {
    @Test("counts gathered from hundreds of statements stay exact when a read has them folded into one row per queue and state")
    func folding() async throws {
        let (server, database) = try await PostgresTestDatabase.get()
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let store = try await PostgresStore(url: url, maximumConnections: 4)
        let rows = { try await offPool { try server.psql("SELECT count(*) FROM \(schema).spool_job_counts", database: database) } }
        for i in 0..<300 { _ = try await store.insert([NewJob(name: "spool.noop", queue: i % 2 == 0 ? "a" : "b")], now: Date()) }
        let dispatcher = UUID()
        for _ in 0..<100 {
            let claimed = try await store.claim(ClaimParams(dispatcher: dispatcher, queues: ["a"], limit: 1, now: Date()))
            _ = try await store.finish(claimed.map { Finish(id: $0.id, dispatcher: dispatcher, outcome: .completed(result: nil, followUps: [])) },
                                       now: Date())
        }
        let before = Int(try await rows().trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(before > 500, "one row per statement before the fold (\(before))")

        let counts = Dictionary(uniqueKeysWithValues: try await store.queues().map { ($0.name, $0.counts) })
        #expect(counts["a"] == [.available: 50, .completed: 100])
        #expect(counts["b"] == [.available: 150])
        // The fold follows the read that found too many rows, without holding up its answer.
        var after = -1
        let deadline = ContinuousClock.now + .seconds(10)
        while after != 3, ContinuousClock.now < deadline {
            after = Int(try await rows().trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            if after != 3 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(after == 3, "folded into one row per queue and state (\(after))")
        let again = Dictionary(uniqueKeysWithValues: try await store.queues().map { ($0.name, $0.counts) })
        #expect(again == counts, "the fold changed no count")
        await store.close()
    }
}
