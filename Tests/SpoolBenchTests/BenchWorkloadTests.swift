import Foundation
@testable import SpoolBench
import SpoolCore
import SpoolSQLite
import SpoolTestSupport
import Testing

/// The bench's workloads on small counts against fresh SQLite stores: each reports its jobs and
/// the exactly-once accounting the full runs in BENCHMARKS.md rely on.
@Suite("Bench workloads", .timeLimit(.minutes(3)))
struct BenchWorkloadTests {
    static let settings = BenchSettings(jobs: 300, concurrency: 20, workers: 0, producers: 2, batch: 50, http: false, rate: 300,
                                        duration: 0.5, durability: "normal", store: "sqlite (fresh file)")

    /// Opens `sqlite:PATH` stores, as the command line does.
    static let opener: BenchStoreOpener = { url, durability in
        try SQLiteStore(path: String(url.dropFirst("sqlite:".count)), durability: Durability(rawValue: durability) ?? .normal)
    }

    /// The `spool` executable built beside the tests, for separate worker processes.
    static let executable: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spool").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/spool").path
    }()

    static func run(_ step: BenchStep, _ settings: BenchSettings = settings) async throws -> ([BenchResult], [JobState: Int]) {
        let target = try await BenchTarget.open(store: nil, durability: settings.durability, workload: step.rawValue,
                                                http: settings.http, executable: executable, opener: opener)
        let results = try await step.run(on: target, settings)
        let counts = try await target.counts()
        try await target.close()
        return (results, counts)
    }

    @Test("w1 single and bulk store every job exactly once", arguments: [BenchStep.enqueueSingle, .enqueueBulk])
    func enqueue(_ step: BenchStep) async throws {
        let (results, counts) = try await Self.run(step)
        #expect(results.map(\.workload) == [step.rawValue])
        let result = try #require(results.first)
        #expect(result.jobs == 300 && result.isClean && result.seconds > 0, "\(result)")
        #expect(counts[.available] == 300, "the enqueued jobs wait in the workload's queue: \(counts)")
    }

    @Test("w2 runs every job exactly once, in this process and in two separate worker processes", arguments: [0, 2])
    func drain(workers: Int) async throws {
        var settings = Self.settings
        settings.workers = workers
        let (results, counts) = try await Self.run(.drain, settings)
        let result = try #require(results.first)
        #expect(results.map(\.workload) == ["w2"])
        #expect(result.jobs == 300 && result.lost == 0 && result.duplicated == 0, "\(result)")
        #expect(counts[.completed] == 300, "\(counts)")
        #expect(result.perSecond > 0)
    }

    @Test("separate workers' drain is read from the store: first claim to last completion, a second claim a rerun")
    func drainSpan() async throws {
        let target = try await BenchTarget.open(store: nil, durability: "normal", workload: "span", http: false,
                                                executable: Self.executable, opener: Self.opener)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        _ = try await target.store.insert((0..<3).map(target.newJob), now: start)
        let dispatcher = UUID()
        let claim = { (seconds: Double) in ClaimParams(dispatcher: dispatcher, queues: [target.queue], limit: 3, now: start + seconds) }
        let first = try await target.store.claim(claim(1))
        #expect(first.count == 3)
        let done = JobOutcome.completed(result: nil, followUps: [])
        _ = try await target.store.finish(first.dropLast().map { Finish(id: $0.id, dispatcher: dispatcher, outcome: done) }, now: start + 2)
        let error = AttemptError(attempt: 1, name: "spool.noop", type: "Flake", message: "try again", at: start + 3)
        _ = try await target.store.finish([Finish(id: first[2].id, dispatcher: dispatcher, outcome: .failed(error, retryAt: start + 3))],
                                          now: start + 3)
        let again = try await target.store.claim(claim(4))
        #expect(again.map(\.id) == [first[2].id])
        _ = try await target.store.finish([Finish(id: first[2].id, dispatcher: dispatcher, outcome: done)], now: start + 5.5)
        let span = try await DrainSpan.read(target)
        try await target.close()
        #expect(span.completed == 3 && span.reruns == 1, "\(span)")
        #expect(abs(span.seconds - 4.5) < 0.001, "first claim at 1 s, last completion at 5.5 s: \(span.seconds)")
    }

    @Test("w3 measures a latency for every job it enqueued")
    func latency() async throws {
        let (results, counts) = try await Self.run(.latency)
        let result = try #require(results.first)
        let latency = try #require(result.latency)
        #expect(result.isClean && result.jobs == counts[.completed], "\(result) \(counts)")
        #expect(result.jobs > 50, "about rate × duration jobs: \(result.jobs)")
        #expect(latency.p50 > 0 && latency.p50 <= latency.p99 && latency.p99 <= latency.max)
    }

    @Test("over HTTP, w2 fills by bulk requests and adds the dashboard's refresh times")
    func drainOverHTTP() async throws {
        var settings = Self.settings
        settings.http = true
        let (results, counts) = try await Self.run(.drain, settings)
        #expect(results.map(\.workload) == ["w2", "w2-dashboard"])
        #expect(results.first?.isClean == true && counts[.completed] == 300, "\(results) \(counts)")
    }

    @Test("a run with a lost or doubled job says so in its report")
    func reportFlagsLoss() {
        let clean = BenchResult(workload: "w2", jobs: 10, seconds: 1, lost: 0, duplicated: 0)
        let lossy = BenchResult(workload: "w2", jobs: 10, seconds: 1, lost: 1, duplicated: 0)
        #expect(BenchReport(settings: Self.settings, results: [clean]).summary.hasSuffix("check: every job ran exactly once"))
        let report = BenchReport(settings: Self.settings, results: [clean, lossy])
        #expect(report.summary.hasSuffix("check: FAILED, jobs were lost or ran twice"))
        #expect(report.table.rows.map { $0[7] } == ["0", "1"], "the LOST column")
        #expect(lossy.perSecond == 10)
    }
}
