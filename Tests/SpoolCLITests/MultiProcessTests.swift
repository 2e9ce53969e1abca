import Foundation
import SpoolCore
import SpoolSQLite
import SpoolTestSupport
import Testing

@Suite("Several worker processes on one store")
struct MultiProcessTests {
    @Test("5,000 jobs with quotas survive a SIGKILLed worker: all complete, none twice at once, no quota exceeded")
    func killedWorker() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let store = try SQLiteStore(path: path)
        let sizes = ["q1": 2, "q2": 3]
        for (name, size) in sizes { try await store.createQuota(name, size: size) }

        // The restarted worker must rescue what it held before the other one's sweep could call it
        // dead: a worker stopped again and again while its journal is read pings seldom, and on a
        // loaded machine its silence could pass the default 10 s.
        func worker(_ name: String, journal: String) throws -> ChildProcess {
            try SpoolProcess.start(["worker", "--store", "sqlite:" + path, "--uuid-file", directory.path("\(name).uuid"),
                                    "--journal", directory.path(journal), "--concurrency", "6", "--poll-interval", "0.02",
                                    "--dead-after", "60"],
                                   log: directory.path("\(journal).log"))
        }
        let first = try worker("a", journal: "a1.jsonl")
        let second = try worker("b", journal: "b.jsonl")
        defer {
            for process in [first, second] where process.isRunning { process.signal(SIGKILL) }
        }

        var total = 0
        func enqueue(batches: Int) async throws {
            for _ in 0..<batches {
                let jobs = (0..<100).map { offset -> NewJob in
                    let i = total + offset
                    let quotas = i % 7 == 0 ? ["q1", "q2"] : i % 3 == 0 ? ["q1"] : i % 3 == 1 ? ["q2"] : []
                    return NewJob(name: "spool.sleep", payload: JSONPayload(unchecked: "{\"seconds\":\(quotas.isEmpty ? 0.05 : 0.002)}"), quotas: quotas)
                }
                _ = try await store.insert(jobs, now: Date())
                total += jobs.count
            }
        }
        try await enqueue(batches: 50)

        func completed() async throws -> Int {
            try await store.queues().reduce(0) { $0 + ($1.counts[.completed] ?? 0) }
        }
        // Generous: it takes 11 s alone, but once took over 240 s on two cores loaded by other builds and tests.
        let deadline = Date().addingTimeInterval(480)
        while try await completed() < 1500, Date() < deadline, first.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        try await WorkerJournals.stopWithRunningJob(first, journal: directory.path("a1.jsonl"), log: directory.path("a1.jsonl.log"),
                                                     until: deadline) {
            if try await WorkerJournals.waiting(in: store) == 0 { try await enqueue(batches: 5) }
        }
        first.signal(SIGKILL)
        await first.waitForExit()
        let killedAt = Date().timeIntervalSince1970 * 1_000_000
        let restarted = try worker("a", journal: "a2.jsonl")
        defer { if restarted.isRunning { restarted.signal(SIGKILL) } }

        while try await completed() < total, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        for process in [second, restarted] {
            process.terminate()
            await process.waitForExit()
            #expect(process.terminationStatus == 0)
        }

        #expect(try await completed() == total, "every job completed")
        let (cutOff, rescued) = try WorkerJournals.afterKill(
            killed: directory.path("a1.jsonl"), at: killedAt, survivors: [directory.path("a2.jsonl"), directory.path("b.jsonl")],
            rescuers: [directory.path("a2.jsonl")], jobs: total, quotas: sizes)
        #expect(!rescued.isEmpty, "the restarted worker rescued the jobs it held when it was killed")
        #expect(cutOff.isSubset(of: rescued), "every job cut off by the kill was rescued")

        try await WorkerJournals.expectCompletedAfterRescue(rescued, in: store, reason: "unclean shutdown")
    }
}
