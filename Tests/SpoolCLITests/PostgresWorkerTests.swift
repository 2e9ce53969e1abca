import Foundation
import SpoolCore
import SpoolPostgres
import SpoolTestSupport
import Testing

/// Worker processes sharing one PostgreSQL store: a killed worker, dropped connections.
@Suite("spool worker processes on PostgreSQL", .enabled(if: PostgresServer.shouldRun), .serialized)
struct PostgresWorkerTests {
    /// A fresh database on the shared test server, its store URL, and a store on it.
    private static func freshStore(schema: String) async throws -> (server: PostgresServer, database: String, url: String, store: PostgresStore) {
        let server = try await PostgresServer.shared()
        let database = try server.createDatabase()
        let url = server.url(database: database, schema: schema)
        return (server, database, url, try await PostgresStore(url: url))
    }

    /// A worker process whose journal and log are NAME.jsonl and NAME.log in `directory`. It
    /// is declared dead after 6 s of silence: long enough that a loaded machine does not make a
    /// live worker look dead, short enough that its jobs are soon rescued.
    private static func worker(_ name: String, store url: String, in directory: TemporaryDirectory) throws -> ChildProcess {
        try SpoolProcess.start(["worker", "--store", url, "--uuid-file", directory.path("\(name).uuid"),
                                "--journal", directory.path("\(name).jsonl"), "--concurrency", "6",
                                "--ping-interval", "0.5", "--dead-after", "6"],
                               log: directory.path("\(name).log"))
    }

    private static func completed(_ store: PostgresStore) async throws -> Int {
        try await store.queues().reduce(0) { $0 + ($1.counts[.completed] ?? 0) }
    }

    /// ``completed(_:)``, read again once when it fails: the drops end the test's own connections
    /// too (they share the worker's application name), and one ended while PostgreSQL was slow to
    /// act on it answers the next query with 57P01 instead of being found closed.
    private static func completedAmidDrops(_ store: PostgresStore) async throws -> Int {
        do { return try await completed(store) } catch { return try await completed(store) }
    }

    @Test("three workers run 10,000 jobs with quotas while a producer enqueues; one is SIGKILLed and its jobs are rescued by the others")
    func killedWorkerAmongThree() async throws {
        let (_, _, url, store) = try await Self.freshStore(schema: "spool_three")
        let directory = try TemporaryDirectory()
        let sizes = ["q1": 2, "q2": 3]
        for (name, size) in sizes { _ = try await store.createQuota(name, size: size) }
        let names = ["a", "b", "c"]
        let workers = try names.map { try Self.worker($0, store: url, in: directory) }
        defer { for process in workers where process.isRunning { process.signal(SIGKILL) } }

        let total = 10_000
        let producer = Task {
            for batch in 0..<(total / 200) {
                let jobs = (0..<200).map { offset -> NewJob in
                    let i = batch * 200 + offset
                    let quotas = i % 50 == 0 ? ["q1", "q2"] : i % 10 == 0 ? ["q1"] : i % 10 == 5 ? ["q2"] : []
                    return NewJob(name: "spool.sleep", payload: JSONPayload(unchecked: "{\"seconds\":\(quotas.isEmpty ? 0.02 : 0.002)}"), quotas: quotas)
                }
                _ = try await store.insert(jobs, now: Date())
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let deadline = Date().addingTimeInterval(300)
        while try await Self.completed(store) < 3000, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let killed = workers[2]
        var extra = 0
        try await WorkerJournals.stopWithRunningJob(killed, journal: directory.path("c.jsonl"), log: directory.path("c.log"), until: deadline) {
            guard try await WorkerJournals.waiting(in: store) == 0 else { return }
            _ = try await store.insert((0..<200).map { _ in NewJob(name: "spool.sleep", payload: JSONPayload(unchecked: "{\"seconds\":0.02}")) },
                                       now: Date())
            extra += 200
        }
        killed.signal(SIGKILL)
        await killed.waitForExit()
        let killedAt = Date().timeIntervalSince1970 * 1_000_000
        try await producer.value
        let all = total + extra

        while try await Self.completed(store) < all, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        for process in workers.prefix(2) {
            process.terminate()
            await process.waitForExit()
            #expect(process.terminationStatus == 0)
        }
        #expect(try await Self.completed(store) == all, "every job completed")

        let live = [directory.path("a.jsonl"), directory.path("b.jsonl")]
        let (cutOff, rescued) = try WorkerJournals.afterKill(killed: directory.path("c.jsonl"), at: killedAt, survivors: live,
                                                             rescuers: live, jobs: all, quotas: sizes)
        #expect(!cutOff.isEmpty, "the kill cut off running jobs")
        #expect(cutOff.isSubset(of: rescued), "the live workers rescued every job the killed one was running")
        try await WorkerJournals.expectCompletedAfterRescue(cutOff, in: store)
    }

    @Test("a worker survives its connections being dropped again and again mid-run: no job lost, none run twice at once")
    func droppedConnections() async throws {
        let (server, database, url, store) = try await Self.freshStore(schema: "spool_drops")
        let directory = try TemporaryDirectory()
        let total = 3000
        _ = try await store.createQuota("q", size: 2)
        for batch in 0..<(total / 500) {
            let jobs = (0..<500).map { i in
                NewJob(name: "spool.sleep", payload: JSONPayload(unchecked: "{\"seconds\":0.005}"), quotas: (batch * 500 + i) % 10 == 0 ? ["q"] : [])
            }
            _ = try await store.insert(jobs, now: Date())
        }
        let worker = try Self.worker("w", store: url, in: directory)
        defer { if worker.isRunning { worker.signal(SIGKILL) } }

        let deadline = Date().addingTimeInterval(180)
        var drops = 0
        while try await Self.completedAmidDrops(store) < total, Date() < deadline {
            if drops < 8, try await Self.completedAmidDrops(store) > drops * 300 {
                try server.psql("""
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE datname = '\(database)' AND pid <> pg_backend_pid() AND application_name LIKE 'spool%'
                    """)
                drops += 1
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(drops == 8, "the worker's connections were dropped eight times while it ran")
        #expect(try await Self.completed(store) == total, "every job completed after the drops")
        worker.terminate()
        await worker.waitForExit()
        #expect(worker.terminationStatus == 0)
        WorkerJournals.expectSound(try WorkerJournals.runs(inJournal: directory.path("w.jsonl")), jobs: total, quotas: ["q": 2])
    }
}
