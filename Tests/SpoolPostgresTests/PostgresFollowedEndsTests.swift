import Foundation
import SpoolCore
import SpoolPostgres
import SpoolTestSupport
import Testing

/// Two store instances on one schema stand for two processes: the ends one records reach the
/// other only through NOTIFY on the ends channel, sent while a process follows them.
@Suite("PostgreSQL: the ends of jobs recorded by another process", .enabled(if: PostgresServer.shouldRun))
struct PostgresFollowedEndsTests {
    @Test("an instance following ends announces a completion, a discard and a cancel recorded by another")
    func endsRecordedElsewhereAreAnnounced() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let recorder = try await PostgresStore(url: url, maximumConnections: 2)
        let follower = try await PostgresStore(url: url, maximumConnections: 2)
        try await StoreConformance.checkEndsAreFollowed(recorder: recorder, follower: follower) {
            try await PostgresTestDatabase.waitForFollower(schema: schema)
        }
        await recorder.close()
        await follower.close()
    }

    @Test("plain completions of a dispatcher's step are announced in notifications of at most 200 ids")
    func manyCompletionsInOneStep() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let recorder = try await PostgresStore(url: url, maximumConnections: 2)
        let follower = try await PostgresStore(url: url, maximumConnections: 2)
        let events = follower.events.subscribe()
        follower.events.followEndsEverywhere()
        try await PostgresTestDatabase.waitForFollower(schema: schema)
        let dispatcher = UUID()
        let now = Date()
        _ = try await recorder.insert((0..<450).map { _ in NewJob(name: "spool.noop") }, now: now)
        let claimed = try await recorder.claim(ClaimParams(dispatcher: dispatcher, limit: 450, now: now, lease: .seconds(60)))
        #expect(claimed.count == 450)
        let finishes = claimed.map { Finish(id: $0.id, dispatcher: dispatcher, outcome: .completed(result: nil, followUps: [])) }
        let step = try await recorder.finishAndClaim(finishes, claims: [ClaimParams(dispatcher: dispatcher, limit: 1, now: now, lease: .seconds(60))],
                                                     now: now)
        #expect(step.applied.allSatisfy { $0 })
        var ended: [JobID: JobState] = [:]
        var notifications = 0
        for await event in events {
            guard case .jobsFinished(let states) = event else { continue }
            notifications += 1
            ended.merge(states) { $1 }
            if ended.count == 450 { break }
        }
        #expect(Set(ended.keys) == Set(claimed.map(\.id)) && ended.values.allSatisfy { $0 == .completed })
        #expect(notifications == 3, "450 ids in notifications of at most 200")
        await recorder.close()
        await follower.close()
    }
}

extension PostgresTestDatabase {
    /// Waits up to 30 s until a process follows `schema`'s ends: its row in the followers table
    /// is written once its connection listens.
    static func waitForFollower(schema: String) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await !pids("SELECT 1 FROM \(schema).spool_end_followers").isEmpty { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PostgresBackendError("no process followed the ends of schema \(schema) within 30 s")
    }
}
