import Foundation
import Metrics
import SpoolCore
import Synchronization

/// The dispatcher's swift-metrics instruments, created once per queue and job name. Those that
/// every attempt touches come together, found by one lookup when a job starts and one when it
/// is recorded.
final class WorkerMetrics: Sendable {
    private struct Key: Hashable {
        let label: String
        let queue: String
        let name: String
    }

    private struct Kind: Hashable {
        let queue: String
        let name: String
    }

    /// The instruments of every attempt of one job name in one queue.
    private final class Attempts: Sendable {
        let claimed: Counter
        let wait: Metrics.Timer
        let run: Metrics.Timer
        let completed: Counter

        init(_ kind: Kind, factory: any MetricsFactory) {
            let dimensions = [("queue", kind.queue), ("name", kind.name)]
            claimed = Counter(label: "spool_jobs_claimed_total", dimensions: dimensions, factory: factory)
            wait = Metrics.Timer(label: "spool_job_wait_seconds", dimensions: dimensions, factory: factory)
            run = Metrics.Timer(label: "spool_job_run_seconds", dimensions: dimensions, factory: factory)
            completed = Counter(label: "spool_jobs_completed_total", dimensions: dimensions, factory: factory)
        }
    }

    private let factory: any MetricsFactory
    private let attempts = Mutex<[Kind: Attempts]>([:])
    private let counters = Mutex<[Key: Counter]>([:])

    /// Creates instruments from `factory`, the process-wide metrics system unless given.
    init(factory: (any MetricsFactory)?) {
        self.factory = factory ?? MetricsSystem.factory
    }

    func count(_ label: String, _ job: Job, by amount: Int = 1) {
        let key = Key(label: label, queue: job.queue, name: job.name)
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: [("queue", job.queue), ("name", job.name)], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment(by: amount)
    }

    /// Counts finished jobs of `state` that retention deleted (`spool_jobs_pruned_total`).
    func pruned(_ count: Int, state: JobState) {
        let key = Key(label: "spool_jobs_pruned_total", queue: "", name: state.rawValue)
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: key.label, dimensions: [("state", state.rawValue)], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment(by: count)
    }

    /// Counts a claimed job (`spool_jobs_claimed_total`) and records how long it waited past its
    /// run time (`spool_job_wait_seconds`).
    func started(_ job: Job, waitSeconds: Double) {
        let attempts = attempts(of: job)
        attempts.claimed.increment()
        attempts.wait.recordNanoseconds(Self.nanoseconds(waitSeconds))
    }

    /// Records an attempt's run time (`spool_job_run_seconds`) and counts it in
    /// `spool_jobs_completed_total` when it `completed`.
    func ran(_ job: Job, seconds: Double, completed: Bool) {
        let attempts = attempts(of: job)
        attempts.run.recordNanoseconds(Self.nanoseconds(seconds))
        if completed { attempts.completed.increment() }
    }

    private func attempts(of job: Job) -> Attempts {
        let kind = Kind(queue: job.queue, name: job.name)
        return attempts.withLock { attempts in
            if let found = attempts[kind] { return found }
            let made = Attempts(kind, factory: factory)
            attempts[kind] = made
            return made
        }
    }

    private static func nanoseconds(_ seconds: Double) -> Int64 {
        Duration.seconds(clamping: max(0, seconds)).clampedNanoseconds
    }
}
