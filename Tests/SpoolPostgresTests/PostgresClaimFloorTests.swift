import Foundation
import PostgresNIO
import SpoolCore
@testable import SpoolPostgres
import SpoolTestSupport
import Testing

/// A busy worker's claims begin where its last claim began, past the index entries of jobs
/// already claimed (``ClaimFloors``), and still take every job that comes ahead of that point.
@Suite("PostgreSQL claims that begin at a floor", .enabled(if: PostgresServer.shouldRun))
struct PostgresClaimFloorTests {
    @Test("the store function takes jobs from the floor while its page fills there, and from the front when the page comes short or due jobs were made available",
          arguments: [AgentPolicy.fifo, .priority])
    func functionBeginsAtTheFloor(policy: AgentPolicy) async throws {
        let logger = PostgresTestDatabase.testLogger
        let start = PostgresRows.truncate(Date())
        let taken = try await PostgresTestDatabase.withFreshSchema { connection, schema in
            let jobs = (0..<6).map { NewJob(name: "job", payload: JSONPayload(unchecked: "{\"i\":\($0)}"), queue: "q", priority: 1) }
            _ = try await PostgresStore.insert(jobs, now: start, schema: PostgresSchema(name: schema), prepared: false, on: connection, logger: logger)
            // A scheduled job, due when the last claim below runs and not before.
            let scheduled = NewJob(name: "due", payload: JSONPayload(unchecked: "{\"i\":\"due\"}"), queue: "q", priority: 1,
                                   runAt: start.addingTimeInterval(60))
            _ = try await PostgresStore.insert([scheduled], now: start, schema: PostgresSchema(name: schema), prepared: false,
                                               on: connection, logger: logger)
            var keys: [[Int64]] = []
            for try await (priority, runAt, seq) in try await connection.query("SELECT priority, run_at, seq FROM spool_jobs ORDER BY seq",
                                                                                logger: logger).decode((Int64, Int64, Int64).self) {
                keys.append(policy == .priority ? [priority, runAt, seq] : [runAt, seq])
            }
            func claim(limit: Int, from floor: [Int64]?, at now: Date = start) async throws -> (payloads: [String], first: [Int64]?) {
                let params = ClaimParams(dispatcher: UUID(), queues: ["q"], limit: limit, policy: policy, now: now)
                let step = try await PostgresStore.finishAndClaim(.none, finishedAt: now, claim: params, floor: floor, on: connection, logger: logger)
                return (step.jobs.map(\.payload.text), step.first)
            }
            let fromThird = try await claim(limit: 2, from: keys[3])
            let short = try await claim(limit: 2, from: keys[5])
            // Jobs 2 and 5 wait ahead of the scheduled one: a floor past job 5 would take the
            // scheduled job, were it not for the due jobs this call makes available.
            let pastFifth = Array(keys[5].dropLast()) + [keys[5].last! + 1]
            let due = try await claim(limit: 1, from: pastFifth, at: start.addingTimeInterval(61))
            return (fromThird, short, due, fromThird.first == keys[3])
        }
        #expect(taken.0.payloads == ["{\"i\":3}", "{\"i\":4}"], "the page from the floor filled: jobs 3 and 4")
        #expect(taken.1.payloads == ["{\"i\":0}", "{\"i\":1}"], "the page from job 5 came short: the claim looked from the front")
        #expect(taken.2.payloads == ["{\"i\":2}"], "a call that made due jobs available looked from the front")
        #expect(taken.3, "the step reports the first claimed job's key exactly")
    }

    @Test("the store's claims take a job it enqueued with a past run time, and a resumed queue's jobs, before the jobs past their floor")
    func ownEarlierJobsComeFirst() async throws {
        let (url, _) = try await PostgresTestDatabase.freshURL()
        let store = try await PostgresStore(url: url, maximumConnections: 2)
        let now = Date()
        _ = try await store.insert((0..<10).map { NewJob(name: "waiting", payload: JSONPayload(unchecked: "{\"i\":\($0)}")) }, now: now)
        func claim(_ limit: Int) async throws -> [String] { try await Self.claim(limit, from: store) }
        #expect(try await claim(2) == ["{\"i\":0}", "{\"i\":1}"])
        _ = try await store.insert([NewJob(name: "early", payload: JSONPayload(unchecked: "{\"early\":true}"),
                                           runAt: now.addingTimeInterval(-60))], now: Date())
        #expect(try await claim(2) == ["{\"early\":true}", "{\"i\":2}"], "the job that runs before the others came first")

        try await store.setPaused("paused", paused: true)
        _ = try await store.insert([NewJob(name: "held", payload: JSONPayload(unchecked: "{\"held\":true}"), queue: "paused",
                                           runAt: now.addingTimeInterval(-30))], now: Date())
        #expect(try await claim(2) == ["{\"i\":3}", "{\"i\":4}"], "the paused queue's job waits")
        try await store.setPaused("paused", paused: false)
        #expect(try await claim(2) == ["{\"held\":true}", "{\"i\":5}"], "the resumed queue's job came first")
        await store.close()
    }

    @Test("a job that another process enqueued with a past run time is claimed first once the claims look from the front again")
    func othersEarlierJobsWithinTheRescanInterval() async throws {
        let (url, _) = try await PostgresTestDatabase.freshURL()
        let worker = try await PostgresStore(url: url, maximumConnections: 2)
        let producer = try await PostgresStore(url: url, maximumConnections: 2)
        let now = Date()
        _ = try await producer.insert((0..<10).map { NewJob(name: "waiting", payload: JSONPayload(unchecked: "{\"i\":\($0)}")) }, now: now)
        func claim(_ limit: Int) async throws -> [String] { try await Self.claim(limit, from: worker) }
        #expect(try await claim(2) == ["{\"i\":0}", "{\"i\":1}"])
        _ = try await producer.insert([NewJob(name: "early", payload: JSONPayload(unchecked: "{\"early\":true}"),
                                              runAt: now.addingTimeInterval(-60))], now: Date())
        try await Task.sleep(for: ClaimFloors.rescanInterval + .milliseconds(100))
        #expect(try await claim(1) == ["{\"early\":true}"])
        await worker.close()
        await producer.close()
    }

    /// The payloads of up to `limit` jobs claimed from `store` now, by a new dispatcher.
    private static func claim(_ limit: Int, from store: PostgresStore) async throws -> [String] {
        try await store.claim(ClaimParams(dispatcher: UUID(), limit: limit, now: Date())).map(\.payload.text)
    }
}

@Suite("Claim floors")
struct ClaimFloorsTests {
    let params = ClaimParams(dispatcher: UUID(), queues: ["a"], limit: 5, now: Date())

    @Test("a floor holds from a claim that took a job until the rescan interval has passed since the claim that looked from the front")
    func rescanInterval() {
        let floors = ClaimFloors(), start = ContinuousClock.now
        #expect(floors.floor(for: params, now: start) == nil, "no claim yet: from the front")
        floors.record(first: [10, 1], for: params, from: nil, now: start)
        #expect(floors.floor(for: params, now: start + .milliseconds(500)) == [10, 1])
        floors.record(first: [20, 2], for: params, from: [10, 1], now: start + .milliseconds(500))
        #expect(floors.floor(for: params, now: start + .milliseconds(900)) == [20, 2])
        #expect(floors.floor(for: params, now: start + ClaimFloors.rescanInterval) == nil,
                "claims from the floor do not put off the next look from the front")
        floors.record(first: [30, 3], for: params, from: nil, now: start + ClaimFloors.rescanInterval)
        #expect(floors.floor(for: params, now: start + ClaimFloors.rescanInterval + .milliseconds(1)) == [30, 3])
    }

    @Test("a claim that took nothing, and forget(), send the next claim to the front; claims of other queues keep floors of their own; claims by priority get none")
    func emptyClaimsAndForget() {
        let floors = ClaimFloors(), now = ContinuousClock.now
        let byPriority = ClaimParams(dispatcher: UUID(), queues: ["a"], limit: 5, policy: .priority, now: Date())
        let otherQueues = ClaimParams(dispatcher: UUID(), queues: ["a", "b"], limit: 5, now: Date())
        floors.record(first: [10, 1], for: params, from: nil, now: now)
        floors.record(first: [0, 10, 1], for: byPriority, from: nil, now: now)
        #expect(floors.floor(for: byPriority, now: now) == nil, "a more urgent job may come ahead of any floor")
        #expect(floors.floor(for: otherQueues, now: now) == nil)
        floors.record(first: [20, 2], for: otherQueues, from: nil, now: now)
        floors.record(first: nil, for: params, from: [10, 1], now: now)
        #expect(floors.floor(for: params, now: now) == nil)
        #expect(floors.floor(for: otherQueues, now: now) == [20, 2])
        floors.forget()
        #expect(floors.floor(for: otherQueues, now: now) == nil)
    }
}
