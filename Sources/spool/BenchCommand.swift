import ArgumentParser
import Foundation
import SpoolCore
import SpoolSQLite
import SpoolWorker
import Synchronization

/// `spool bench`: the workloads of DESIGN §12 against a fresh embedded store.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure enqueue (w1) and drain (w2) throughput on a fresh embedded store.")

    enum Workload: String, ExpressibleByArgument, CaseIterable { case w1, w2, all }

    @Argument(help: "w1 (enqueue, single and bulk), w2 (drain) or all.")
    var workload: Workload = .all

    @Option(help: "Jobs per workload.")
    var jobs: Int = 20_000

    @Option(help: "How many jobs the dispatcher runs at once in w2.")
    var concurrency: Int = 50

    @Option(help: "Commit durability: normal or full.")
    var durability: String = "normal"

    @Option(help: "Write the results as JSON to this file.")
    var output: String?

    struct Result: Codable {
        var workload: String
        var jobs: Int
        var seconds: Double
        var perSecond: Double
        var lost: Int
        var duplicated: Int
    }

    func run() async throws {
        StoreOptions.bootstrapQuietLogging()
        try await reportingErrors {
            guard let mode = Durability(rawValue: durability) else { throw SpoolError(.invalidArgument, "unknown durability '\(durability)'") }
            guard jobs >= 1, concurrency >= 1 else { throw SpoolError(.invalidArgument, "--jobs and --concurrency must be at least 1") }
            var results: [Result] = []
            if workload != .w2 {
                results.append(try await Self.enqueueSingle(jobs: jobs, durability: mode))
                results.append(try await Self.enqueueBulk(jobs: jobs, durability: mode))
            }
            if workload != .w1 {
                results.append(try await Self.drain(jobs: jobs, concurrency: concurrency, durability: mode))
            }
            print("")
            Output.table(["WORKLOAD", "JOBS", "SECONDS", "JOBS/S", "LOST", "DUPLICATED"], results.map {
                [$0.workload, "\($0.jobs)", String(format: "%.3f", $0.seconds), String(format: "%.0f", $0.perSecond), "\($0.lost)", "\($0.duplicated)"]
            })
            print("\nstore: sqlite, durability \(durability), \(ProcessInfo.processInfo.activeProcessorCount) cores")
            if let output {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(results).write(to: URL(fileURLWithPath: output))
            }
            if results.contains(where: { $0.lost > 0 || $0.duplicated > 0 }) { fail("jobs were lost or ran twice") }
        }
    }

    static func payload(_ i: Int) -> JSONPayload {
        JSONPayload(unchecked: "{\"i\":\(i),\"pad\":\"\(String(repeating: "x", count: 100))\"}")
    }

    static func freshStore(_ durability: Durability) throws -> (SQLiteStore, TemporaryFolder) {
        let folder = try TemporaryFolder()
        return (try SQLiteStore(path: folder.path + "/bench.db", durability: durability), folder)
    }

    static func enqueueSingle(jobs: Int, durability: Durability) async throws -> Result {
        let (store, folder) = try freshStore(durability)
        _ = folder
        print("w1 single: enqueueing \(jobs) jobs one call each…")
        let start = ContinuousClock.now
        for i in 0..<jobs { _ = try await store.insert([NewJob(name: BuiltinJobs.noop, payload: payload(i))], now: Date()) }
        let seconds = (ContinuousClock.now - start).seconds
        let stored = try await count(store)
        return Result(workload: "w1 enqueue single", jobs: jobs, seconds: seconds, perSecond: Double(jobs) / seconds,
                      lost: jobs - stored, duplicated: max(0, stored - jobs))
    }

    static func enqueueBulk(jobs: Int, durability: Durability) async throws -> Result {
        let (store, folder) = try freshStore(durability)
        _ = folder
        print("w1 bulk: enqueueing \(jobs) jobs in one call…")
        let batch = (0..<jobs).map { NewJob(name: BuiltinJobs.noop, payload: payload($0)) }
        let start = ContinuousClock.now
        _ = try await store.insert(batch, now: Date())
        let seconds = (ContinuousClock.now - start).seconds
        let stored = try await count(store)
        return Result(workload: "w1 enqueue bulk", jobs: jobs, seconds: seconds, perSecond: Double(jobs) / seconds,
                      lost: jobs - stored, duplicated: max(0, stored - jobs))
    }

    static func drain(jobs: Int, concurrency: Int, durability: Durability) async throws -> Result {
        let (store, folder) = try freshStore(durability)
        print("w2 drain: \(jobs) no-op jobs enqueued, draining with concurrency \(concurrency)…")
        _ = try await store.insert((0..<jobs).map { NewJob(name: BuiltinJobs.noop, payload: payload($0)) }, now: Date())
        let registry = JobRegistry()
        BuiltinJobs.register(into: registry)
        var configuration = DispatcherConfiguration(id: UUID())
        configuration.agents = [AgentSpec(name: AgentSpec.mainName, size: concurrency)]
        let tally = Tally(target: jobs)
        let dispatcher = Dispatcher(store: store, registry: registry, configuration: configuration, observer: { event in
            if case .jobEnded(let job, let outcome?) = event, case .completed = outcome { tally.record(job.id) }
        })
        let start = ContinuousClock.now
        let running = Task { try await dispatcher.run() }
        await tally.wait()
        let seconds = (ContinuousClock.now - start).seconds
        dispatcher.stop()
        try await running.value
        let completed = try await store.queues().reduce(0) { $0 + ($1.counts[.completed] ?? 0) }
        _ = folder
        return Result(workload: "w2 drain", jobs: jobs, seconds: seconds, perSecond: Double(jobs) / seconds,
                      lost: jobs - completed, duplicated: tally.duplicates)
    }

    static func count(_ store: SQLiteStore) async throws -> Int {
        try await store.queues().reduce(0) { total, queue in total + queue.counts.values.reduce(0, +) }
    }
}

/// Counts completed jobs, noticing any completed twice, and wakes a waiter at the target.
private final class Tally: Sendable {
    private let state = Mutex<(seen: Set<JobID>, duplicates: Int, waiter: CheckedContinuation<Void, Never>?, done: Bool)>(([], 0, nil, false))
    private let target: Int

    init(target: Int) { self.target = target }

    func record(_ id: JobID) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.seen.insert(id).inserted { state.duplicates += 1 }
            guard state.seen.count >= target, !state.done else { return nil }
            state.done = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if !state.done { state.waiter = continuation }
                return state.done
            }
            if done { continuation.resume() }
        }
    }

    var duplicates: Int { state.withLock { $0.duplicates } }
}

/// A directory removed when released.
final class TemporaryFolder {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("spool-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
