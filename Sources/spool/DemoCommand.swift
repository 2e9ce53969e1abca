import ArgumentParser
import Foundation
import SpoolCore
import SpoolSQLite
import SpoolWorker

/// `spool demo`: a dispatcher on a fresh embedded store runs a mix of built-in jobs (some
/// delayed, some failing before they succeed, some under a quota) with live progress, then
/// prints a summary.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Run demo jobs on a fresh embedded store with live progress and a summary.")

    @Option(help: "Where to create the demo store (default: a new temporary directory).")
    var directory: String?

    @Option(help: "How many jobs the dispatcher runs at once.")
    var concurrency: Int = 8

    func run() async throws {
        StoreOptions.bootstrapQuietLogging()
        try await reportingErrors {
            let folder = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("spool-demo-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let path = URL(fileURLWithPath: folder).appendingPathComponent("spool.db").path
            let store = try SQLiteStore(path: path)
            print("Spool demo: store sqlite:\(path)")

            try await store.createQuota("reports", size: 2)
            let jobs = DemoCommand.jobs(now: Date())
            _ = try await store.insert(jobs, now: Date())
            print("Enqueued \(jobs.count) jobs: no-ops, echoes, sleeps, flaky jobs that fail before they succeed,")
            print("jobs delayed by a few seconds, and report jobs limited to 2 at a time by the quota 'reports'.\n")

            let identity = try DispatcherIdentity.acquire(inDirectory: folder)
            var configuration = DispatcherConfiguration(id: identity.id)
            configuration.agents = [AgentSpec(name: AgentSpec.mainName, size: concurrency)]
            configuration.backoff = Backoff(base: .milliseconds(300), maximum: .seconds(2), jitter: 0.2)
            configuration.pollInterval = .milliseconds(200)
            configuration.gracePeriod = .seconds(5)
            let registry = JobRegistry()
            BuiltinJobs.register(into: registry)
            let dispatcher = Dispatcher(store: store, registry: registry, configuration: configuration, identity: identity)
            let started = Date()
            let running = Task { try await dispatcher.run() }

            let progress = Progress(total: jobs.count)
            while true {
                let counts = try await store.queues().reduce(into: [JobState: Int]()) { totals, queue in
                    for (state, count) in queue.counts { totals[state, default: 0] += count }
                }
                progress.show(counts)
                if JobState.allCases.filter(\.isTerminal).reduce(0, { $0 + (counts[$1] ?? 0) }) >= jobs.count { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            progress.finish()
            dispatcher.stop()
            try await running.value
            try await DemoCommand.summarize(store, seconds: Date().timeIntervalSince(started))
            print("\nLook around: spool jobs list --store sqlite:\(path)")
        }
    }

    static func jobs(now: Date) -> [NewJob] {
        var jobs: [NewJob] = []
        for i in 0..<40 { jobs.append(NewJob(name: BuiltinJobs.noop, payload: JSONPayload(unchecked: "{\"i\":\(i)}"))) }
        for i in 0..<15 { jobs.append(NewJob(name: BuiltinJobs.echo, payload: JSONPayload(unchecked: "{\"message\":\"hello \(i)\"}"))) }
        for i in 0..<12 {
            jobs.append(NewJob(name: BuiltinJobs.sleep, payload: JSONPayload(unchecked: "{\"seconds\":\(0.2 + Double(i % 5) * 0.2)}")))
        }
        for i in 0..<8 {
            jobs.append(NewJob(name: BuiltinJobs.fail, payload: JSONPayload(unchecked: "{\"times\":\(1 + i % 2),\"message\":\"flaky upstream\"}")))
        }
        for _ in 0..<2 {
            jobs.append(NewJob(name: BuiltinJobs.fail, payload: "{\"message\":\"permanent failure\"}", maxAttempts: 3))
        }
        for i in 0..<10 {
            jobs.append(NewJob(name: BuiltinJobs.sleep, payload: "{\"seconds\":0.5}", queue: "reports", quotas: ["reports"], tags: ["report-\(i)"]))
        }
        for i in 0..<8 {
            jobs.append(NewJob(name: BuiltinJobs.echo, payload: JSONPayload(unchecked: "{\"delayed\":\(i)}"),
                               runAt: now.addingTimeInterval(1 + Double(i % 3))))
        }
        return jobs
    }

    static func summarize(_ store: SQLiteStore, seconds: Double) async throws {
        var all: [Job] = []
        var cursor: JobID?
        repeat {
            let page = try await store.jobs(JobQuery(limit: 500, after: cursor))
            all += page.jobs
            cursor = page.nextCursor
        } while cursor != nil
        let groups = Dictionary(grouping: all, by: \.name).sorted { $0.key < $1.key }
        print("")
        Output.table(["JOB", "JOBS", "COMPLETED", "DISCARDED", "ATTEMPTS", "RETRIES", "AVG RUN"], groups.map { name, jobs in
            let runs = jobs.compactMap { job -> Double? in
                guard job.state == .completed, let start = job.startedAt, let end = job.finishedAt else { return nil }
                return end.timeIntervalSince(start)
            }
            let average = runs.isEmpty ? "-" : String(format: "%.0f ms", runs.reduce(0, +) / Double(runs.count) * 1000)
            let attempts = jobs.reduce(0) { $0 + $1.attempt }
            return [name, "\(jobs.count)", "\(jobs.filter { $0.state == .completed }.count)",
                    "\(jobs.filter { $0.state == .discarded }.count)", "\(attempts)", "\(jobs.reduce(0) { $0 + $1.errors.count })", average]
        })
        print(String(format: "\n%d jobs finished in %.1f s.", all.count, seconds))
        if let failed = all.first(where: { $0.state == .discarded }), let error = failed.errors.last {
            print("Discarded jobs keep every error, e.g. \(failed.id): attempt \(error.attempt): \(error.message)")
        }
    }
}

/// A one-line progress display: redrawn in place on a terminal, a line per second otherwise.
final class Progress {
    private let total: Int
    private let terminal = isatty(STDOUT_FILENO) != 0
    private var lastLine = Date.distantPast

    init(total: Int) { self.total = total }

    func show(_ counts: [JobState: Int]) {
        let done = JobState.allCases.filter(\.isTerminal).reduce(0) { $0 + (counts[$1] ?? 0) }
        let width = 30, filled = total == 0 ? width : done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "[\(bar)] \(done)/\(total) done · \(counts[.running] ?? 0) running · \(counts[.available] ?? 0) waiting · "
            + "\(counts[.scheduled] ?? 0) scheduled · \(counts[.retryable] ?? 0) retrying"
        if terminal {
            print("\r\(line)", terminator: "")
            fflush(nil)
        } else if Date().timeIntervalSince(lastLine) >= 1 || done >= total {
            print(line)
            lastLine = Date()
        }
    }

    func finish() {
        if terminal { print("") }
    }
}
