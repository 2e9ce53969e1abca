import Foundation
import SpoolCore
import SpoolSQLite
import SpoolTestSupport
import Testing

/// One run of one attempt of one job in one worker process, from its journal.
private struct Run {
    let job: String
    let attempt: Int
    let quotas: [String]
    let start: Double
    var end: Double?
    var outcome: String?
}

/// Reads a worker's journal into runs; a run without an end was cut off by a kill.
private func runs(inJournal path: String) throws -> [Run] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var open: [String: Run] = [:], closed: [Run] = []
    for line in text.split(separator: "\n") {
        guard let event = try? JSONPayload(unchecked: String(line)).decode(JSONValue.self),
              let name = event["event"]?.string, let at = event["at"]?.number else { continue }
        guard let job = event["job"]?.string, let attempt = event["attempt"]?.number else { continue }
        let key = "\(job)/\(Int(attempt))"
        if name == "started" {
            let quotas: [String]
            if case .array(let values)? = event["quotas"] { quotas = values.compactMap(\.string) } else { quotas = [] }
            open[key] = Run(job: job, attempt: Int(attempt), quotas: quotas, start: at)
        } else if name == "ended", var run = open.removeValue(forKey: key) {
            run.end = at
            run.outcome = event["outcome"]?.string
            closed.append(run)
        }
    }
    return closed + Array(open.values)
}

/// The job ids of the journal's events named `name`.
private func events(_ name: String, inJournal path: String) throws -> [String] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
        guard let event = try? JSONPayload(unchecked: String(line)).decode(JSONValue.self), event["event"]?.string == name else { return nil }
        return event["job"]?.string
    }
}

@Suite("Several worker processes on one store")
struct MultiProcessTests {
    @Test("5,000 jobs with quotas survive a SIGKILLed worker: all complete, none twice at once, no quota exceeded")
    func killedWorker() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let store = try SQLiteStore(path: path)
        let sizes = ["q1": 2, "q2": 3]
        for (name, size) in sizes { try await store.createQuota(name, size: size) }

        func worker(_ name: String, journal: String) throws -> Process {
            try SpoolProcess.start(["worker", "--store", "sqlite:" + path, "--uuid-file", directory.path("\(name).uuid"),
                                    "--journal", directory.path(journal), "--concurrency", "6", "--poll-interval", "0.02"],
                                   log: directory.path("\(journal).log"))
        }
        let first = try worker("a", journal: "a1.jsonl")
        let second = try worker("b", journal: "b.jsonl")
        defer {
            for process in [first, second] where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }

        let total = 5000
        for batch in 0..<50 {
            let jobs = (0..<100).map { offset -> NewJob in
                let i = batch * 100 + offset
                let quotas = i % 7 == 0 ? ["q1", "q2"] : i % 3 == 0 ? ["q1"] : i % 3 == 1 ? ["q2"] : []
                return NewJob(name: "spool.sleep", payload: JSONPayload(unchecked: "{\"seconds\":\(quotas.isEmpty ? 0.05 : 0.002)}"), quotas: quotas)
            }
            _ = try await store.insert(jobs, now: Date())
        }

        func completed() async throws -> Int {
            try await store.queues().reduce(0) { $0 + ($1.counts[.completed] ?? 0) }
        }
        let deadline = Date().addingTimeInterval(240)
        while try await completed() < 1500, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        while try runs(inJournal: directory.path("a1.jsonl")).allSatisfy({ $0.end != nil }), Date() < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
        kill(first.processIdentifier, SIGKILL)
        await SpoolProcess.waitForExit(first)
        let killedAt = Date().timeIntervalSince1970 * 1_000_000
        let restarted = try worker("a", journal: "a2.jsonl")
        defer { if restarted.isRunning { kill(restarted.processIdentifier, SIGKILL) } }

        while try await completed() < total, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        for process in [second, restarted] {
            process.terminate()
            await SpoolProcess.waitForExit(process)
            #expect(process.terminationStatus == 0)
        }

        #expect(try await completed() == total, "every job completed")
        let killedRuns = try runs(inJournal: directory.path("a1.jsonl"))
        let cutOff = killedRuns.filter { $0.end == nil }
        let rescued = Set(try events("rescued", inJournal: directory.path("a2.jsonl")))
        #expect(!rescued.isEmpty, "the restarted worker rescued the jobs it held when it was killed")
        #expect(Set(cutOff.map(\.job)).isSubset(of: rescued), "every job cut off by the kill was rescued")
        let all = killedRuns.map { run -> Run in
            var run = run
            if run.end == nil { run.end = killedAt }
            return run
        } + (try runs(inJournal: directory.path("a2.jsonl"))) + (try runs(inJournal: directory.path("b.jsonl")))
        #expect(all.allSatisfy { $0.end != nil }, "only the killed worker left runs unfinished")

        let byJob = Dictionary(grouping: all, by: \.job)
        #expect(byJob.count == total, "every job ran")
        for (job, jobRuns) in byJob {
            let sorted = jobRuns.sorted { $0.start < $1.start }
            for (earlier, later) in zip(sorted, sorted.dropFirst()) {
                #expect(earlier.end! <= later.start, "job \(job) ran twice at the same time")
            }
            #expect(sorted.last?.outcome == "completed", "job \(job) ended completed")
        }

        for (quota, size) in sizes {
            var edges: [(Double, Int)] = []
            for run in all where run.quotas.contains(quota) { edges += [(run.start, 1), (run.end!, -1)] }
            edges.sort { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            var current = 0, peak = 0
            for edge in edges { current += edge.1; peak = max(peak, current) }
            #expect(peak <= size, "quota \(quota) of size \(size) had \(peak) jobs running at once")
            #expect(peak >= 1)
        }

        for text in rescued {
            let id = try #require(JobID(text))
            let job = try #require(try await store.job(id))
            #expect(job.state == .completed)
            #expect(job.errors.contains { $0.type == "rescued" && $0.message.contains("unclean shutdown") },
                    "job \(text) records its rescue after the unclean shutdown")
        }
    }
}
