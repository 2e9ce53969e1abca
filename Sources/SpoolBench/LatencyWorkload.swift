import Foundation
import SpoolCore
import Synchronization

/// W3: jobs enqueued at a fixed rate while a worker runs; per job, the time from the enqueue
/// call to the start of its code.
enum LatencyWorkload {
    /// The worker is a dispatcher in this process; the start is seen by its observer.
    static func inProcess(_ target: BenchTarget, _ settings: BenchSettings) async throws -> BenchResult {
        let total = jobCount(settings)
        let starts = StartLog(target: total)
        let enqueued = EnqueueTimes()
        let queue = target.queue
        let dispatcher = InProcessWorker.make(target, settings) { event in
            switch event {
            case .jobStarted(let job) where job.queue == queue: starts.record(job.id, at: Date())
            case .jobEnded(let job, .completed?) where job.queue == queue: starts.recordCompletion()
            default: break
            }
        }
        let running = Task { try await dispatcher.run() }
        defer { dispatcher.stop() }
        let seconds = try await produce(target, settings, label: "w3 latency (worker in process)", enqueued: enqueued.record)
        _ = await starts.waitForCompletions(deadline: .now + .seconds(60))
        dispatcher.stop()
        try await running.value
        return BenchResult(workload: "w3", jobs: total, seconds: seconds, lost: total - starts.started,
                           duplicated: starts.duplicates, latency: LatencySummary(seconds: starts.latencies(since: enqueued)))
    }

    /// The worker is a separate `spool worker` process on the same store; the start is read
    /// from its journal.
    static func workerProcess(_ target: BenchTarget, _ settings: BenchSettings) async throws -> BenchResult {
        let total = jobCount(settings)
        let worker = try await WorkerProcess.start(target, concurrency: settings.concurrency)
        let enqueued = EnqueueTimes()
        let seconds: Double
        do {
            seconds = try await produce(target, settings, label: "w3 latency (separate worker process)", enqueued: enqueued.record)
            let deadline = ContinuousClock.now + .seconds(60)
            while try await target.counts()[.completed] ?? 0 < total, ContinuousClock.now < deadline, worker.isRunning {
                try await Task.sleep(for: .milliseconds(50))
            }
        } catch {
            await worker.stop()
            throw error
        }
        await worker.stop()
        let starts = StartLog(target: total)
        for (id, at) in try worker.journalStarts() {
            starts.record(id, at: at)
        }
        return BenchResult(workload: "w3-process", jobs: total, seconds: seconds, lost: total - starts.started,
                           duplicated: starts.duplicates, latency: LatencySummary(seconds: starts.latencies(since: enqueued)))
    }

    static func jobCount(_ settings: BenchSettings) -> Int {
        max(1, Int((settings.rate * settings.duration).rounded()))
    }

    /// Enqueues one job per call at `settings.rate` for `settings.duration`, noting each job's
    /// id and the time just before its call; returns the seconds it took. A call that takes
    /// longer than the interval delays the next one, never skips it.
    static func produce(_ target: BenchTarget, _ settings: BenchSettings, label: String,
                        enqueued: (JobID, Date) -> Void) async throws -> Double {
        let total = jobCount(settings)
        let progress = BenchProgress(label + " at \(Int(settings.rate)) jobs/s", total: total)
        let interval = Duration.seconds(1 / settings.rate)
        let producer = try await BenchProducer.open(target)
        let start = ContinuousClock.now
        do {
            for index in 0..<total {
                let due = start + interval * index
                if due > .now { try await Task.sleep(until: due, clock: .continuous) }
                let sent = Date()
                enqueued(try await producer.enqueueOne(target.newJob(index), now: sent), sent)
                progress.advance()
            }
        } catch {
            await producer.close()
            throw error
        }
        await producer.close()
        progress.finish()
        return (ContinuousClock.now - start).seconds
    }
}

/// When each job was enqueued, by id.
final class EnqueueTimes: Sendable {
    private let times = Mutex<[JobID: Date]>([:])

    func record(_ id: JobID, _ time: Date) { times.withLock { $0[id] = time } }

    func time(of id: JobID) -> Date? { times.withLock { $0[id] } }
}
