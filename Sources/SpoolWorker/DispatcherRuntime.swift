import Foundation
import Logging
import Metrics
import SpoolCore
import Synchronization

/// What a dispatcher's agents share: the store, the registry, the completer, the loggers and
/// metrics, the clock, and the stop flag.
final class DispatcherRuntime: Sendable {
    let store: any JobStore
    let registry: JobRegistry
    let configuration: DispatcherConfiguration
    let completer: Completer
    /// Claims whose jobs the agents have not yet taken in.
    let claimsInFlight = ClaimsInFlight()
    let events: Logger
    let trace: Logger
    let metrics: WorkerMetrics
    let now: @Sendable () -> Date
    private let observer: DispatcherObserver?
    private let finishes = FinishSignal()
    private let stopping = Atomic<Bool>(false)
    private let random = Mutex(SystemRandomNumberGenerator())

    init(store: any JobStore, registry: JobRegistry, configuration: DispatcherConfiguration, observer: DispatcherObserver?,
         metrics: (any MetricsFactory)?, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.metrics = WorkerMetrics(factory: metrics)
        self.observer = observer
        self.registry = registry
        self.configuration = configuration
        self.now = now
        var events = Logger(label: "spool.events")
        events[metadataKey: "dispatcher"] = "\(configuration.id.uuidString.lowercased())"
        var trace = Logger(label: "spool.trace")
        trace[metadataKey: "dispatcher"] = "\(configuration.id.uuidString.lowercased())"
        self.events = events
        self.trace = trace
        self.completer = Completer(store: store, now: now, claimsInFlight: claimsInFlight, logger: events,
                                   finished: finishes.signal)
    }

    /// Delivers `event` to the application's observer, if any; without one the event is not made.
    func observe(_ event: @autoclosure () -> DispatcherEvent) { observer?(event()) }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    func stop() { stopping.store(true, ordering: .releasing) }

    /// Signalled whenever a job of this dispatcher finishes.
    var drained: Wakeup { finishes.drained }

    func wakeOnJobFinished(_ wakeups: [Wakeup]) { finishes.wake(wakeups) }

    func jobFinished() { finishes.signal() }

    /// Turns how an attempt ended into what the store records.
    func outcome(of execution: JobExecution, _ result: JobExecution.Result) -> JobOutcome {
        let job = execution.job, now = now()
        func failure(_ name: String, _ type: String, _ message: String) -> AttemptError {
            AttemptError(attempt: job.attempt, name: name, type: type, message: message, at: now)
        }
        func retryAt() -> Date? {
            guard job.attempt < job.maxAttempts else { return nil }
            let delay = random.withLock { configuration.backoff.delay(afterAttempt: job.attempt, using: &$0) }
            return now.addingTimeInterval(delay.seconds)
        }
        switch result {
        case .succeeded(let value):
            return .completed(result: value, followUps: execution.followUps)
        case .unknownJob:
            return .failed(failure("UnknownJob", "unknown_job", "no job named '\(job.name)' is registered in dispatcher \(configuration.id.uuidString.lowercased())"), retryAt: retryAt())
        case .timedOut(let timeout):
            return .failed(failure("Timeout", "timeout", "attempt \(job.attempt) ran past its timeout of \(timeout.seconds) seconds and was cancelled"), retryAt: retryAt())
        case .failed(let error):
            if execution.cancelRequested {
                return .cancelled(failure("Cancelled", "cancelled", "cancelled while running"))
            }
            switch error as? JobControl {
            case .discard(let message)?: return .failed(failure("Discarded", "discarded", message), retryAt: nil)
            case .cancel(let message)?: return .cancelled(failure("Cancelled", "cancelled", message))
            case .snooze(let delay)?: return .snoozed(until: now.addingTimeInterval(delay.seconds))
            case .retry(let message, let after)?:
                return .failed(failure("Retry", "retry", message), retryAt: retryAt().map { max($0, now.addingTimeInterval(after.seconds)) })
            case nil: return .failed(failure(String(describing: type(of: error)), "error", String(describing: error)), retryAt: retryAt())
            }
        }
    }

    /// Logs, counts and announces jobs the store rescued: each with the reason its rescue
    /// recorded, or `otherwise`.
    func reportRescued(_ jobs: [Job], otherwise: String) {
        for job in jobs {
            metrics.count("spool_jobs_rescued_total", job)
            observe(.jobRescued(job))
            events.warning("job \(job.id) (\(job.name)) rescued: \(job.errors.last?.message ?? otherwise); now \(job.state)")
        }
    }

    /// Logs and counts an outcome.
    func report(_ job: Job, outcome: JobOutcome, applied: Bool, runSeconds: Double) {
        let logger = trace
        guard applied else {
            events.warning("outcome of job \(job.id) was not recorded: the job is no longer held by this dispatcher")
            return
        }
        let completed = if case .completed = outcome { true } else { false }
        metrics.ran(job, seconds: runSeconds, completed: completed)
        switch outcome {
        case .completed:
            logger.debug("job completed", metadata: ["job": "\(job.id)", "job_name": "\(job.name)", "seconds": "\(runSeconds)"])
        case .failed(let error, let retryAt):
            metrics.count("spool_jobs_failed_total", job)
            if let retryAt {
                metrics.count("spool_jobs_retried_total", job)
                events.info("job \(job.id) (\(job.name)) failed attempt \(job.attempt): \(error.message); retrying at \(ISO8601.format(retryAt))")
            } else {
                events.warning("job \(job.id) (\(job.name)) discarded after attempt \(job.attempt): \(error.message)")
            }
        case .cancelled(let error):
            metrics.count("spool_jobs_cancelled_total", job)
            events.info("job \(job.id) (\(job.name)) cancelled: \(error.message)")
        case .snoozed(let until):
            logger.debug("job snoozed", metadata: ["job": "\(job.id)", "until": "\(ISO8601.format(until))"])
        }
    }
}

/// Wakes what waits for a dispatcher's jobs to finish: its agents (slots to fill) and its drain.
final class FinishSignal: Sendable {
    /// Signalled whenever a job finishes.
    let drained = Wakeup()
    /// The agents' wake-ups. (Wake-ups, not a closure: a closure kept as a `Mutex` value is
    /// re-wrapped on every access.)
    private let agents = Mutex<[Wakeup]>([])

    /// Makes ``signal()`` wake `wakeups` too.
    func wake(_ wakeups: [Wakeup]) { agents.withLock { $0 = wakeups } }

    func signal() {
        for wakeup in agents.withLock({ $0 }) { wakeup.signal() }
        drained.signal()
    }
}
