import Foundation
import Metrics
import SpoolCore
import Synchronization

/// The dispatcher's swift-metrics instruments, created once per queue and job name.
final class WorkerMetrics: Sendable {
    private struct Key: Hashable {
        let label: String
        let queue: String
        let name: String
    }

    private let factory: any MetricsFactory
    private let counters = Mutex<[Key: Counter]>([:])
    private let timers = Mutex<[Key: Metrics.Timer]>([:])

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

    func record(_ label: String, _ job: Job, seconds: Double) {
        let key = Key(label: label, queue: job.queue, name: job.name)
        let timer = timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = Metrics.Timer(label: label, dimensions: [("queue", job.queue), ("name", job.name)], factory: factory)
            timers[key] = timer
            return timer
        }
        timer.recordNanoseconds(Duration.seconds(clamping: max(0, seconds)).clampedNanoseconds)
    }
}
