import Foundation
import SpoolCore
import SpoolHTTP
import SpoolWorker

/// One workload of `spool bench` (DESIGN §12).
public enum BenchStep: String, Sendable, CaseIterable {
    /// W1 single: one enqueue call per job, each awaiting its own durable commit.
    case enqueueSingle = "w1-single"
    /// W1 bulk: one call for every job (over HTTP, bulk requests).
    case enqueueBulk = "w1-bulk"
    /// W2: the time to run jobs already enqueued.
    case drain = "w2"
    /// W3: per job, the time from the enqueue call to the start of its code, in this process.
    case latency = "w3"
    /// W3 with the jobs run by a separate `spool worker` process.
    case latencyProcess = "w3-process"
    /// Per job run by a separate worker, the time from its end to its event at a `/v1/events` client.
    case push = "w3-push"
    /// Many jobs drained by separate workers with retention on: speed, size and memory over time (``SoakWorkload``).
    case soak

    /// Whether the workload needs the bench's HTTP server whether or not jobs go in over HTTP.
    public var needsServer: Bool { self == .push || self == .soak }

    /// Runs the workload on `target` and returns its results (W2 over HTTP adds `w2-dashboard`).
    public func run(on target: BenchTarget, _ settings: BenchSettings) async throws -> [BenchResult] {
        switch self {
        case .enqueueSingle: [try await EnqueueWorkload.single(target, settings)]
        case .enqueueBulk: [try await EnqueueWorkload.bulk(target, settings)]
        case .drain: try await DrainWorkload.run(target, settings)
        case .latency: [try await LatencyWorkload.inProcess(target, settings)]
        case .latencyProcess: [try await LatencyWorkload.workerProcess(target, settings)]
        case .push: [try await PushLatencyWorkload.run(target, settings)]
        case .soak: try await SoakWorkload.run(target, settings)
        }
    }
}

/// W1: enqueue throughput, one call per job or one call for all.
enum EnqueueWorkload {
    /// Every call enqueues one job and returns once it is durable. With several producers the
    /// calls overlap, and group commit lets them share transactions. Over HTTP each producer
    /// has a keep-alive connection of its own.
    static func single(_ target: BenchTarget, _ settings: BenchSettings) async throws -> BenchResult {
        let affineStore = settings.affinity ? target.affineStore : nil
        let label = "w1 single (\(settings.producers) producer\(settings.producers == 1 ? "" : "s")\(target.server == nil ? "" : ", HTTP")"
            + "\(affineStore == nil ? "" : ", with the store's affinity"))"
        let progress = BenchProgress(label, total: settings.jobs)
        let next = Counter()
        let producers = try await BenchProducer.open(target, count: settings.producers)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in producers {
                group.addTask {
                    @Sendable func produce() async throws {
                        while case let index = next.take(), index < settings.jobs {
                            try await producer.enqueue([target.newJob(index)])
                            progress.advance()
                        }
                    }
                    if let affineStore { try await affineStore.withAffinity(produce) } else { try await produce() }
                }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - start).seconds
        progress.finish()
        await BenchProducer.close(producers)
        return try await result("w1-single", target, settings, seconds: seconds)
    }

    /// In process: one call enqueues every job in one transaction. Over HTTP: bulk requests of
    /// `--batch` jobs, sent by the producers side by side.
    static func bulk(_ target: BenchTarget, _ settings: BenchSettings) async throws -> BenchResult {
        let batch = target.server == nil ? settings.jobs : settings.batch
        let label = target.server == nil ? "w1 bulk (one call)" : "w1 bulk (HTTP, \(batch) jobs per request)"
        let progress = BenchProgress(label, total: settings.jobs)
        let producers = try await BenchProducer.open(target, count: target.server == nil ? 1 : settings.producers)
        let jobs = (0..<settings.jobs).map(target.newJob)
        let next = Counter()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in producers {
                group.addTask {
                    while case let first = next.take() * batch, first < jobs.count {
                        let slice = Array(jobs[first..<min(first + batch, jobs.count)])
                        try await producer.enqueue(slice)
                        progress.advance(by: slice.count)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - start).seconds
        progress.finish()
        await BenchProducer.close(producers)
        return try await result("w1-bulk", target, settings, seconds: seconds)
    }

    private static func result(_ name: String, _ target: BenchTarget, _ settings: BenchSettings, seconds: Double) async throws -> BenchResult {
        let stored = try await target.stored()
        return BenchResult(workload: name, jobs: settings.jobs, seconds: seconds,
                           lost: max(0, settings.jobs - stored), duplicated: max(0, stored - settings.jobs))
    }
}

/// W2: the time to run jobs already enqueued, from the worker's start to the last completion.
/// Over HTTP the jobs go in by bulk requests, the worker's events feed the server, and a
/// dashboard probe measures how fast the server answers while the drain runs.
enum DrainWorkload {
    static func run(_ target: BenchTarget, _ settings: BenchSettings) async throws -> [BenchResult] {
        let jobs = settings.jobs
        try await fill(target, settings)
        if settings.workers > 0 { return [try await runInProcesses(target, settings)] }
        let progress = BenchProgress("w2 drain (concurrency \(settings.concurrency))", total: jobs)
        let starts = StartLog(target: jobs)
        let queue = target.queue
        let dispatcher = InProcessWorker.make(target, settings) { event in
            switch event {
            case .jobStarted(let job) where job.queue == queue: starts.record(job.id, at: Date())
            case .jobEnded(let job, .completed?) where job.queue == queue: progress.advance(); starts.recordCompletion()
            default: break
            }
        }
        let probe: DashboardProbe? = if let server = target.server { try await DashboardProbe.start(server) } else { nil }
        let start = ContinuousClock.now
        let running = Task { try await dispatcher.run() }
        let finished = await starts.waitForCompletions(deadline: .now + .seconds(max(60, Double(jobs) / 500)))
        let seconds = (ContinuousClock.now - start).seconds
        let probes = await probe?.stop()
        progress.finish()
        dispatcher.stop()
        try await running.value
        if !finished { FileHandle.standardError.write(Data("w2: gave up waiting for the last jobs\n".utf8)) }
        let completed = try await target.counts()[.completed] ?? 0
        var results = [BenchResult(workload: "w2", jobs: jobs, seconds: seconds, lost: jobs - completed, duplicated: starts.duplicates)]
        if let probes {
            results.append(BenchResult(workload: "w2-dashboard", jobs: probes.count, seconds: seconds, lost: 0, duplicated: 0,
                                       latency: LatencySummary(seconds: probes)))
        }
        return results
    }

    /// Drains with `settings.workers` separate worker processes sharing the concurrency, timed
    /// from the first claim to the last completion as the store recorded them (the workers
    /// keep no journal: one written per job's start and end cost the worker about a sixth of
    /// its drain, and the worker in process records none either).
    private static func runInProcesses(_ target: BenchTarget, _ settings: BenchSettings) async throws -> BenchResult {
        let jobs = settings.jobs
        let progress = BenchProgress("w2 drain (concurrency \(settings.concurrency), \(settings.workers) worker processes)", total: jobs)
        var workers: [WorkerProcess] = []
        do {
            // All at once, as the peers' harness starts its workers: one after another, the first
            // would drain alone while the others start.
            let started = await withTaskGroup(of: Result<WorkerProcess, any Error>.self) { group in
                for index in 0..<settings.workers {
                    let share = settings.concurrencyShare(index, of: settings.workers)
                    group.addTask {
                        do {
                            return .success(try await WorkerProcess.start(target, concurrency: share, name: "worker-\(index + 1)", journal: false))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            workers = started.compactMap { try? $0.get() }
            for result in started { _ = try result.get() }   // the first failure, once every started worker is known
            let deadline = ContinuousClock.now + .seconds(max(60, Double(jobs) / 500))
            var completed = 0
            // Counting asks the store to group every job it holds: once a second, so the count
            // takes little from the drain it watches (the time comes from the journals).
            while completed < jobs, ContinuousClock.now < deadline, workers.allSatisfy(\.isRunning) {
                try await Task.sleep(for: .seconds(1))
                completed = try await target.counts()[.completed] ?? 0
                progress.set(completed)
            }
            progress.finish()
        } catch {
            for worker in workers { await worker.stop() }
            throw error
        }
        for worker in workers { await worker.stop() }
        let span = try await DrainSpan.read(target)
        return BenchResult(workload: "w2", jobs: jobs, seconds: span.seconds, lost: jobs - span.completed, duplicated: span.reruns)
    }

    /// Enqueues the jobs to drain: in one call, or over HTTP in bulk requests.
    private static func fill(_ target: BenchTarget, _ settings: BenchSettings) async throws {
        let producer = try await BenchProducer.open(target)
        let jobs = (0..<settings.jobs).map(target.newJob)
        let batch = target.server == nil ? jobs.count : settings.batch
        do {
            for first in stride(from: 0, to: jobs.count, by: batch) {
                try await producer.enqueue(Array(jobs[first..<min(first + batch, jobs.count)]))
            }
        } catch {
            await producer.close()
            throw error
        }
        await producer.close()
    }
}

/// A dispatcher in this process taking only the workload's queue; with `--http` its events and
/// metrics feed the server, as `spool serve`'s own worker does.
enum InProcessWorker {
    static func make(_ target: BenchTarget, _ settings: BenchSettings, observer: @escaping DispatcherObserver) -> Dispatcher {
        let registry = JobRegistry()
        BuiltinJobs.register(into: registry)
        if target.app != nil { HTTPJobs.register(into: registry, configuration: (try? HTTPJobs.Configuration.fromEnvironment()) ?? .init(keys: nil)) }
        var configuration = DispatcherConfiguration(id: UUID())
        configuration.queues = [target.queue]
        configuration.agents = [AgentSpec(name: AgentSpec.mainName, size: settings.concurrency)]
        guard let server = target.server else {
            return Dispatcher(store: target.store, registry: registry, configuration: configuration, observer: observer)
        }
        return Dispatcher(store: target.store, registry: registry, configuration: configuration,
                          observer: server.observing(observer), metrics: server.server.metrics.factory)
    }
}
