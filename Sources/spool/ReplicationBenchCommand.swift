import ArgumentParser
import Foundation
import SpoolBench
import SpoolCore
import SpoolReplication
import SpoolReplicationSQLite
import SpoolSQLite
import SpoolTestSupport
import SpoolWorker

/// `spool replication-bench`: what replication costs and how close secondaries follow.
struct ReplicationBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replication-bench",
        abstract: "Measure replication: W2 with and without secondaries, their lag during it, and a snapshot's speed.",
        discussion: """
            On fresh SQLite stores (synchronous NORMAL): W2 (--jobs no-op jobs enqueued, then drained by a \
            dispatcher of --concurrency in this process) once without replication and once with a primary in this \
            process (as `spool serve --replicate` runs one) and --secondaries `spool secondary` processes on \
            loopback (each starts from its snapshot before the jobs go in; --in-process runs them in this process \
            instead, sharing its threads with the drain), in \
            alternating rounds (--rounds each), each timed from its first claim to its last completion as the store \
            recorded them, the best of each kept; the secondaries' lag is sampled every 5 ms \
            during the replicated drains, as the primary sees it (how long ago it captured the oldest transaction \
            a secondary has not yet reported applied; 0 when none is missing). A replicated drain starts once every \
            secondary has the enqueue, a single transaction of every job whose copying is timed apart (from the \
            enqueue's start), and must end \
            with every secondary confirming the primary's last transaction, or the bench fails. This process's CPU \
            time per job during the drains is reported too (the primary and its dispatcher; with --in-process the \
            secondaries as well): what the primary's machine would spend with its secondaries elsewhere. Then a store of \
            --snapshot-mb megabytes is made and a fresh secondary's snapshot of it timed, from its start to the \
            snapshot in place.
            """)

    @Option(help: "Jobs per W2 drain.")
    var jobs: Int = 20_000

    @Option(help: "The dispatcher's concurrency.")
    var concurrency: Int = 50

    @Option(help: "Secondaries following the primary in the replicated drains.")
    var secondaries: Int = 2

    @Option(help: "Drains of each kind.")
    var rounds: Int = 3

    @Option(help: "The size of the store whose snapshot is timed, in megabytes (0 skips it).")
    var snapshotMb: Int = 1024

    @Flag(help: "Run the secondaries in this process instead of as `spool secondary` processes of their own.")
    var inProcess = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Result: Codable {
        var jobs: Int
        var concurrency: Int
        var secondaries: Int
        var plainJobsPerSecond: Double
        var replicatedJobsPerSecond: Double
        var costPercent: Double
        /// Each round's replicated drain against the drain alone just before it, in percent.
        var roundCostPercents: [Double]
        /// The median of ``roundCostPercents``: pairing a drain with the one just before it
        /// leaves out how this machine's speed drifts from minute to minute.
        var medianRoundCostPercent: Double
        var lagSamples: Int
        var lagP50Milliseconds: Double
        var lagP99Milliseconds: Double
        var lagMaxMilliseconds: Double
        var enqueueReplicatedMilliseconds: Double
        var plainCPUMicrosecondsPerJob: Double
        var replicatedCPUMicrosecondsPerJob: Double
        var snapshotMegabytes: Double?
        var snapshotSeconds: Double?
        var snapshotMegabytesPerSecond: Double?
    }

    func run() async throws {
        StoreOptions.bootstrapQuietLogging()
        try await reportingErrors {
            guard jobs > 0, concurrency > 0, secondaries >= 1, rounds >= 1, snapshotMb >= 0 else {
                throw SpoolError(.invalidArgument, "--jobs, --concurrency, --secondaries and --rounds must be positive")
            }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-replication-bench-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var plain: [DrainRun] = [], replicated: [DrainRun] = []
            for round in 0..<rounds {
                plain.append(try await drain(in: "\(directory)/plain-\(round)", replicas: 0))
                replicated.append(try await drain(in: "\(directory)/replicated-\(round)", replicas: secondaries))
                if !json { print("round \(round + 1): \(Int(plain.last!.jobsPerSecond)) jobs/s alone, \(Int(replicated.last!.jobsPerSecond)) with \(secondaries) secondaries") }
            }
            let best = (plain: plain.map(\.jobsPerSecond).max()!, replicated: replicated.map(\.jobsPerSecond).max()!)
            let paired = zip(plain, replicated).map { (1 - $1.jobsPerSecond / $0.jobsPerSecond) * 100 }
            let enqueues = replicated.compactMap(\.enqueueSeconds)
            let lags = replicated.flatMap(\.lags)
            let lag = LatencySummary(seconds: lags)
            var result = Result(jobs: jobs, concurrency: concurrency, secondaries: secondaries, plainJobsPerSecond: best.plain,
                                replicatedJobsPerSecond: best.replicated, costPercent: (1 - best.replicated / best.plain) * 100,
                                roundCostPercents: paired, medianRoundCostPercent: Self.median(paired),
                                lagSamples: lags.count, lagP50Milliseconds: lag.p50, lagP99Milliseconds: lag.p99,
                                lagMaxMilliseconds: lag.max, enqueueReplicatedMilliseconds: (enqueues.max() ?? 0) * 1000,
                                plainCPUMicrosecondsPerJob: plain.map(\.cpuSeconds).min()! / Double(jobs) * 1_000_000,
                                replicatedCPUMicrosecondsPerJob: replicated.map(\.cpuSeconds).min()! / Double(jobs) * 1_000_000)
            if snapshotMb > 0 {
                let (megabytes, seconds) = try await snapshot(in: "\(directory)/snapshot")
                result.snapshotMegabytes = megabytes
                result.snapshotSeconds = seconds
                result.snapshotMegabytesPerSecond = megabytes / seconds
            }
            if json {
                try Output.json(result)
            } else {
                print(String(format: "W2 %d jobs, concurrency %d: %.0f jobs/s alone, %.0f with %d secondaries (%.1f %% less)",
                             jobs, concurrency, result.plainJobsPerSecond, result.replicatedJobsPerSecond, secondaries, result.costPercent))
                print("each round's replicated drain against the drain alone before it: " + result.roundCostPercents.map { String(format: "%.1f %%", $0) }.joined(separator: ", ")
                      + String(format: " less (median %.1f %%)", result.medianRoundCostPercent))
                print(String(format: "lag during the drains (%d samples): p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                             result.lagSamples, result.lagP50Milliseconds, result.lagP99Milliseconds, result.lagMaxMilliseconds))
                print(String(format: "the enqueue of %d jobs in one transaction, written and on every secondary: %.0f ms at most",
                             jobs, result.enqueueReplicatedMilliseconds))
                print(String(format: "this process's CPU per job during the drain (the primary and its dispatcher%@): %.1f µs alone, %.1f µs replicated",
                             inProcess ? ", and the secondaries" : "", result.plainCPUMicrosecondsPerJob, result.replicatedCPUMicrosecondsPerJob))
                if let megabytes = result.snapshotMegabytes, let seconds = result.snapshotSeconds {
                    print(String(format: "snapshot of %.0f MB in %.2f s: %.0f MB/s", megabytes, seconds, megabytes / seconds))
                }
            }
        }
    }

    /// The middle of `values` (the mean of the two middle ones when they are even in number).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// What one drain measured.
    private struct DrainRun {
        var jobsPerSecond: Double
        /// The secondaries' lag, sampled every 5 ms, in seconds.
        var lags: [Double] = []
        /// From the enqueue's start until every secondary had it.
        var enqueueSeconds: Double?
        /// The CPU time this process spent from the drain's start to its end.
        var cpuSeconds: Double
    }

    /// One W2 drain on a fresh store in `folder`, with `replicas` secondaries following it.
    private func drain(in folder: String, replicas: Int) async throws -> DrainRun {
        var lags: [Double] = []
        var enqueueSeconds: Double?
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/store.db"
        let store = try SQLiteStore(path: path)
        var primary: ReplicationPrimary?
        var serving: Task<Void, Error>?
        var secondaries = Secondaries()
        if replicas > 0 {
            let started = try await ReplicationPrimary(path: path, host: "127.0.0.1", port: 0)
            primary = started
            serving = Task { try await started.run() }
            secondaries = try await startSecondaries(replicas, of: started, in: folder, named: "copy")
        }
        defer {
            serving?.cancel()
            secondaries.stop()
        }
        let enqueued = ContinuousClock.now
        _ = try await store.insert((0..<jobs).map { _ in NewJob(name: BuiltinJobs.noop) }, now: Date())
        if let primary {
            // The enqueue is one transaction of every job: the drain starts once the secondaries
            // have it, so that the lag measures how they follow the drain, not how long so large a
            // transaction takes to copy (reported apart).
            try await primary.replicated(by: replicas, timeout: .seconds(600))
            enqueueSeconds = (ContinuousClock.now - enqueued).seconds
        }
        let registry = JobRegistry()
        BuiltinJobs.register(into: registry)
        var configuration = DispatcherConfiguration(id: UUID())
        configuration.agents = [AgentSpec(name: AgentSpec.mainName, size: concurrency)]
        let dispatcher = Dispatcher(store: store, registry: registry, configuration: configuration)
        let start = ContinuousClock.now
        let cpuAtStart = ProcessCPU.seconds()
        let worker = Task { try await dispatcher.run() }
        var seconds = 0.0, cpuSeconds = 0.0
        while true {
            let done = try await store.queues().reduce(0) { $0 + ($1.counts[.completed] ?? 0) }
            if done >= jobs {
                cpuSeconds = ProcessCPU.seconds() - cpuAtStart
                // The drain's time as the store recorded it (from the first claim to the last
                // completion): the count here is read every 100 ms, too coarse for a drain of
                // half a second.
                seconds = try await DrainSpan.read(store, queue: NewJob.defaultQueue).seconds
                break
            }
            // Sampled every 5 ms, counted every 100 ms.
            for _ in 0..<20 {
                for secondary in primary?.status.secondaries ?? [] { if let lag = secondary.lag.seconds { lags.append(lag) } }
                try await Task.sleep(for: .milliseconds(5))
            }
            guard ContinuousClock.now - start < .seconds(600) else { throw SpoolError(.invalidState, "the drain took over 10 minutes") }
        }
        dispatcher.stop()
        try await worker.value
        if let primary {
            // The figures stand only if the secondaries followed to the end: a capture that
            // stopped would have left the drain alone on the cores, and a faster drain to report.
            do {
                try await primary.replicated(by: replicas, timeout: .seconds(60))
            } catch {
                throw SpoolError(.invalidState, "the secondaries did not follow the replicated drain to its end: \(error)")
            }
        }
        await store.close()
        return DrainRun(jobsPerSecond: Double(jobs) / seconds, lags: lags, enqueueSeconds: enqueueSeconds, cpuSeconds: cpuSeconds)
    }

    /// A store of about --snapshot-mb megabytes (jobs with 512 KB payloads), a primary on it, and
    /// a fresh secondary: seconds from the secondary's start to its snapshot in place.
    private func snapshot(in folder: String) async throws -> (megabytes: Double, seconds: Double) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/store.db"
        let store = try SQLiteStore(path: path)
        let blob = String(repeating: "x", count: 512 * 1024 - 16)
        for _ in 0..<(snapshotMb * 2 / 10 + 1) {
            _ = try await store.insert((0..<10).map { _ in NewJob(name: BuiltinJobs.noop, payload: JSONPayload(unchecked: #"{"b":"\#(blob)"}"#)) }, now: Date())
        }
        await store.close()
        let primary = try await ReplicationPrimary(path: path, host: "127.0.0.1", port: 0)
        let serving = Task { try await primary.run() }
        defer { serving.cancel() }
        let start = ContinuousClock.now
        let secondary = try await startSecondaries(1, of: primary, in: folder, named: "copy")
        defer { secondary.stop() }
        let seconds = (ContinuousClock.now - start).seconds
        let size = (try FileManager.default.attributesOfItem(atPath: folder + "/copy-0.db")[.size] as? NSNumber)?.doubleValue ?? 0
        return (size / 1_048_576, seconds)
    }

    /// The secondaries of a run: `spool secondary` processes, or tasks of this process with
    /// `--in-process`.
    private struct Secondaries {
        var tasks: [Task<Void, Error>] = []
        var processes: [ChildProcess] = []

        /// Ends them: cancels the tasks, and stops the processes (SIGTERM, then SIGKILL after 10 s).
        func stop() {
            for task in tasks { task.cancel() }
            for process in processes { process.terminate() }
            for process in processes where process.waitForExitBlocking(within: .seconds(10)) == nil { process.signal(SIGKILL) }
        }
    }

    /// Starts `count` secondaries of `primary` on fresh copies in `folder` (`NAME-INDEX.db`), and
    /// returns once each has its snapshot and has confirmed the primary's last transaction.
    private func startSecondaries(_ count: Int, of primary: ReplicationPrimary, in folder: String, named name: String) async throws -> Secondaries {
        var secondaries = Secondaries()
        for index in 0..<count {
            let path = "\(folder)/\(name)-\(index).db"
            if inProcess {
                let copy = try ReplicationSecondary(path: path, primaryHost: "127.0.0.1", port: primary.address.port)
                secondaries.tasks.append(Task { try await copy.run() })
            } else {
                var environment = ProcessInfo.processInfo.environment
                environment["SPOOL_LOG_LEVEL"] = "error"
                secondaries.processes.append(try ChildProcess.spawn(BenchCommand.executablePath, [
                    "secondary", "--primary", "127.0.0.1:\(primary.address.port)", "--store", "sqlite:" + path,
                ], environment: environment, outputPath: "\(folder)/\(name)-\(index).log"))
            }
        }
        do {
            try await Self.until("\(count) secondaries connected") {
                if let index = secondaries.processes.firstIndex(where: { !$0.isRunning }) {
                    let log = (try? String(contentsOfFile: "\(folder)/\(name)-\(index).log", encoding: .utf8)) ?? ""
                    throw SpoolError(.invalidState, "secondary \(index) exited with status \(secondaries.processes[index].terminationStatus ?? -1): \(log.suffix(600))")
                }
                return (primary.status.secondaries?.count ?? 0) >= count
            }
            try await primary.replicated(by: count, timeout: .seconds(600))
        } catch {
            secondaries.stop()
            throw error
        }
        return secondaries
    }

    private static func until(_ what: String, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(600)
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw SpoolError(.invalidState, "\(what) did not arrive within 10 minutes") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}
