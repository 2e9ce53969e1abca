import Foundation
import SpoolCore
import SpoolWorker

/// One workload of `spool bench`.
enum BenchStep: String {
    case enqueueSingle = "w1-single"
    case enqueueBulk = "w1-bulk"
    case drain = "w2"
    case latency = "w3"
    case latencyProcess = "w3-process"

    func run(on target: BenchTarget, _ settings: BenchSettings) async throws -> [BenchResult] {
        switch self {
        case .enqueueSingle: [try await EnqueueWorkload.single(target, settings)]
        case .enqueueBulk: [try await EnqueueWorkload.bulk(target, settings)]
        case .drain: [try await DrainWorkload.run(target, settings)]
        case .latency: [try await LatencyWorkload.inProcess(target, settings)]
        case .latencyProcess: [try await LatencyWorkload.workerProcess(target, settings)]
        }
    }
}

/// W1: enqueue throughput, one call per job or one call for all.
enum EnqueueWorkload {
    /// Every call enqueues one job and returns once it is durable. With several producers the
    /// calls overlap, and group commit lets them share transactions.
    static func single(_ target: BenchTarget, _ settings: BenchSettings) async throws -> BenchResult {
        let progress = BenchProgress("w1 single (\(settings.producers) producer\(settings.producers == 1 ? "" : "s"))", total: settings.jobs)
        let next = Counter()
        let store = target.store
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<settings.producers {
                group.addTask {
                    while case let index = next.take(), index < settings.jobs {
                        _ = try await store.insert([target.newJob(index)], now: Date())
                        progress.advance()
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - start).seconds
        progress.finish()
        return try await result("w1-single", target, settings, seconds: seconds)
    }

    /// One call enqueues every job in one transaction.
    static func bulk(_ target: BenchTarget, _ settings: BenchSettings) async throws -> BenchResult {
        let progress = BenchProgress("w1 bulk (one call)", total: settings.jobs)
        let start = ContinuousClock.now
        let batch = (0..<settings.jobs).map(target.newJob)
        _ = try await target.store.insert(batch, now: Date())
        let seconds = (ContinuousClock.now - start).seconds
        progress.set(settings.jobs)
        progress.finish()
        return try await result("w1-bulk", target, settings, seconds: seconds)
    }

    private static func result(_ name: String, _ target: BenchTarget, _ settings: BenchSettings, seconds: Double) async throws -> BenchResult {
        let stored = try await target.stored()
        return BenchResult(workload: name, jobs: settings.jobs, seconds: seconds,
                           lost: max(0, settings.jobs - stored), duplicated: max(0, stored - settings.jobs))
    }
}

/// W2: the time to run jobs already enqueued, from the worker's start to the last completion.
enum DrainWorkload {
    static func run(_ target: BenchTarget, _ settings: BenchSettings) async throws -> BenchResult {
        let jobs = settings.jobs
        _ = try await target.store.insert((0..<jobs).map(target.newJob), now: Date())
        let progress = BenchProgress("w2 drain (concurrency \(settings.concurrency))", total: jobs)
        let starts = StartLog(target: jobs)
        let queue = target.queue
        let dispatcher = InProcessWorker.make(target, settings) { event in
            switch event {
            case .jobStarted(let job) where job.queue == queue: starts.record(job.id, latency: 0)
            case .jobEnded(let job, .completed?) where job.queue == queue: progress.advance(); starts.recordCompletion()
            default: break
            }
        }
        let start = ContinuousClock.now
        let running = Task { try await dispatcher.run() }
        let finished = await starts.waitForCompletions(deadline: .now + .seconds(max(60, Double(jobs) / 500)))
        let seconds = (ContinuousClock.now - start).seconds
        progress.finish()
        dispatcher.stop()
        try await running.value
        if !finished { FileHandle.standardError.write(Data("w2: gave up waiting for the last jobs\n".utf8)) }
        let completed = try await target.counts()[.completed] ?? 0
        return BenchResult(workload: "w2", jobs: jobs, seconds: seconds, lost: jobs - completed, duplicated: starts.duplicates)
    }
}

/// A dispatcher in this process taking only the workload's queue.
enum InProcessWorker {
    static func make(_ target: BenchTarget, _ settings: BenchSettings, observer: @escaping DispatcherObserver) -> Dispatcher {
        let registry = JobRegistry()
        BuiltinJobs.register(into: registry)
        var configuration = DispatcherConfiguration(id: UUID())
        configuration.queues = [target.queue]
        configuration.agents = [AgentSpec(name: AgentSpec.mainName, size: settings.concurrency)]
        return Dispatcher(store: target.store, registry: registry, configuration: configuration, observer: observer)
    }
}
