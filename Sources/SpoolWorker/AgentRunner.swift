import Foundation
import Instrumentation
import Logging
import SpoolCore
import Synchronization
import Tracing

/// Runs one agent of a dispatcher: claims up to its free capacity, runs each job in a task of
/// its own at a time, records outcomes through the completer, and keeps its recent completed
/// jobs. A task whose job ended takes the next job started (a runner, parked while none is), so
/// that a drain does not make and destroy a task per job; one that a cancel may have reached
/// ends instead. Claims
/// wait until a quarter of the slots are free (or the agent is idle), so each takes a batch.
/// While its queue has a backlog, the completer claims the slots that finishing jobs free in
/// the same store call that records them; slots being claimed are reserved, so the two never
/// hand out the same slot.
final class AgentRunner: Sendable {
    private struct State {
        var running: [JobID: JobExecution] = [:]
        var completed: [JobID] = []
        /// Slots promised to claims in flight.
        var reserved = 0
        /// Whether the last claim filled every slot it asked for: more jobs probably wait.
        var backlog = false
        /// The tracer in effect where the agent runs (``JobTracing/current``), `nil` when off.
        var tracing: JobTracing?
        /// Runners waiting for a job, the last parked first.
        var idle: [Idle] = []
        /// Whether the agent stopped claiming: runners end instead of parking.
        var retired = false
    }

    /// A job to run and the span of its run.
    private struct Assignment: Sendable {
        let execution: JobExecution
        let span: (any Span)?
    }

    /// A task that runs jobs one after another; its handle is set once it is made.
    private final class Runner: Sendable {
        let task = Mutex<Task<Void, Never>?>(nil)
    }

    /// A runner parked until ``start(_:)`` hands it a job (or `nil`: end).
    private struct Idle {
        let runner: Runner
        let continuation: UnsafeContinuation<Assignment?, Never>
    }

    let spec: AgentSpec
    let wakeup = Wakeup()
    private let runtime: DispatcherRuntime
    private let state = Mutex(State())

    init(spec: AgentSpec, runtime: DispatcherRuntime) {
        self.spec = spec
        self.runtime = runtime
    }

    var runningCount: Int { state.withLock { $0.running.count } }

    func execution(_ id: JobID) -> JobExecution? { state.withLock { $0.running[id] } }

    var runningExecutions: [JobExecution] { state.withLock { Array($0.running.values) } }

    var info: AgentInfo {
        state.withLock { state in
            AgentInfo(name: spec.name, filter: spec.filter.description, size: spec.size, policy: spec.policy,
                      running: state.running.keys.sorted(), completed: state.completed)
        }
    }

    /// Claims and starts jobs until the dispatcher stops.
    func run() async {
        let configuration = runtime.configuration
        let batch = max(1, spec.size / 4)
        // The agent wakes at the latest every poll interval, from one timer for its whole run.
        let ticker = wakeup.tick(every: configuration.pollInterval)
        defer {
            ticker.cancel()
            retireRunners()
        }
        let tracing = JobTracing.current
        state.withLock { $0.tracing = tracing }
        while !runtime.isStopping {
            let free = state.withLock { state -> Int in
                let free = spec.size - state.running.count - state.reserved
                guard free >= batch || (free > 0 && state.running.isEmpty) else { return 0 }
                state.reserved += free
                return free
            }
            var mayHaveMore = false
            if free > 0 {
                var jobs: [Job] = []
                let params = claimParams(limit: free)
                let token = runtime.claimsInFlight.begin(params.now)
                let span = tracing?.startClaim(queues: configuration.queues ?? [])
                do {
                    jobs = try await runtime.store.claim(params)
                } catch is CancellationError where runtime.isStopping {
                    // The dispatcher's task was cancelled: it is stopping, not failing.
                } catch {
                    runtime.events.error("agent \(spec.name) could not claim jobs: \(error)")
                    span?.recordError(error)
                }
                if let span {
                    span.attributes["spool.agent"] = spec.name
                    span.attributes["spool.jobs.claimed"] = jobs.count
                    span.end()
                }
                startClaimed(jobs, reserved: free)
                runtime.claimsInFlight.end(token)
                mayHaveMore = jobs.count == free
            }
            if mayHaveMore, state.withLock({ spec.size - $0.running.count - $0.reserved }) >= batch { continue }
            await wakeup.wait()
        }
    }

    /// Reserves the slots that `finishing` jobs of this agent free, plus any idle ones, for a
    /// claim made together with their finish; `nil` when the queue seems empty or the
    /// dispatcher is stopping.
    func reserveFollowingClaim(finishing: Int) -> ClaimParams? {
        guard !runtime.isStopping else { return nil }
        let free = state.withLock { state -> Int in
            guard state.backlog else { return 0 }
            let free = spec.size - state.running.count + finishing - state.reserved
            if free > 0 { state.reserved += free }
            return free
        }
        return free > 0 ? claimParams(limit: free) : nil
    }

    /// Starts jobs claimed for `reserved` reserved slots and gives the slots back.
    func startClaimed(_ jobs: [Job], reserved: Int) {
        if !jobs.isEmpty {
            runtime.trace.debug("claimed \(jobs.count) jobs", metadata: ["agent": "\(spec.name)"])
        }
        for job in jobs { start(job) }
        state.withLock { state in
            state.reserved -= reserved
            state.backlog = jobs.count == reserved
        }
    }

    private func claimParams(limit: Int) -> ClaimParams {
        let configuration = runtime.configuration
        return ClaimParams(dispatcher: configuration.id, queues: configuration.queues, limit: limit, policy: spec.policy,
                           filter: spec.filter, now: runtime.now(), lease: configuration.lease)
    }

    private func start(_ job: Job) {
        let logger = runtime.trace
        let execution = JobExecution(job: job, handler: runtime.registry.handler(for: job.name), logger: logger)
        let tracing = state.withLock { state in
            state.running[job.id] = execution
            return state.tracing
        }
        runtime.metrics.started(job, waitSeconds: (job.startedAt ?? runtime.now()).timeIntervalSince(job.runAt))
        logger.debug("job started", metadata: ["job": "\(job.id)", "job_name": "\(job.name)", "attempt": "\(job.attempt)"])
        let assignment = Assignment(execution: execution, span: tracing?.startRun(job))
        let idle = state.withLock { $0.idle.popLast() }
        if let idle, let task = idle.runner.task.withLock({ $0 }) {
            execution.attach(task)
            idle.continuation.resume(returning: assignment)
            return
        }
        idle?.continuation.resume(returning: nil)   // parked before its handle was set: let it end
        let runner = Runner()
        let task = Task { await self.serve(assignment, runner: runner, tracing: tracing) }
        runner.task.withLock { $0 = task }
        execution.attach(task)
    }

    /// A runner's life: runs `first`, then each job handed to it while parked, until a cancel
    /// may have reached its task or the agent retires.
    private func serve(_ first: Assignment, runner: Runner, tracing: JobTracing?) async {
        var next: Assignment? = first
        while let assignment = next {
            await run(assignment.execution, span: assignment.span, tracing: tracing)
            guard !assignment.execution.detach(), !Task.isCancelled else { return }
            next = await withUnsafeContinuation { continuation in
                let parked = state.withLock { state in
                    if !state.retired { state.idle.append(Idle(runner: runner, continuation: continuation)) }
                    return !state.retired
                }
                if !parked { continuation.resume(returning: nil) }
            }
        }
    }

    /// Ends the parked runners and keeps the others from parking.
    private func retireRunners() {
        let idle = state.withLock { state in
            state.retired = true
            defer { state.idle = [] }
            return state.idle
        }
        for runner in idle { runner.continuation.resume(returning: nil) }
    }

    /// Runs one attempt and hands its outcome to the completer, which calls
    /// ``recorded(_:outcome:applied:runSeconds:)`` once it is durable: the runner goes on.
    private func run(_ execution: JobExecution, span: (any Span)?, tracing: JobTracing?) async {
        runtime.observe(.jobStarted(execution.job))
        let started = ContinuousClock.now
        // The handler's own spans are children of the run's.
        let result = if let span {
            await InstrumentationContext.$current.withValue(span.context) { await execution.run() }
        } else {
            await execution.run()
        }
        let runSeconds = (ContinuousClock.now - started).seconds
        let job = execution.job
        guard execution.beginFinishing() else {
            runtime.observe(.jobEnded(job, nil))
            runtime.trace.debug("job abandoned by this dispatcher", metadata: ["job": "\(job.id)"])
            span.map { JobTracing.finish($0, outcome: "released") }
            finished(execution, completed: false)
            runtime.jobFinished()
            return
        }
        var outcome = runtime.outcome(of: execution, result)
        // Jobs a run enqueues when it completes continue its trace.
        if let span, let tracing, case let .completed(value, followUps) = outcome, !followUps.isEmpty {
            outcome = .completed(result: value, followUps: tracing.carry(followUps, from: span))
        }
        if let span {
            let (name, error) = Self.describe(outcome)
            JobTracing.finish(span, outcome: name, error: error)
        }
        runtime.observe(.jobEnded(job, outcome))
        runtime.completer.finish(Finish(id: job.id, dispatcher: runtime.configuration.id, outcome: outcome),
                                 of: execution, by: self, runSeconds: runSeconds)
    }

    /// Reports and lets go of `execution`, whose outcome the completer has written (`applied`
    /// is `false` when the store no longer held the job here, or could not be written). The
    /// completer signals ``DispatcherRuntime/jobFinished()`` once for its whole batch.
    func recorded(_ execution: JobExecution, outcome: JobOutcome, applied: Bool, runSeconds: Double) {
        let job = execution.job
        runtime.report(job, outcome: outcome, applied: applied, runSeconds: runSeconds)
        if applied {
            runtime.observe({
                var recorded = job
                recorded.finish(outcome, now: runtime.now())
                return .jobRecorded(recorded)
            }())
        }
        finished(execution, completed: true)
    }

    /// How an attempt ended, as its run span says it (`spool.job.outcome`).
    private static func describe(_ outcome: JobOutcome) -> (name: String, error: String?) {
        switch outcome {
        case .completed: ("completed", nil)
        case let .failed(error, retryAt): (retryAt == nil ? "discarded" : "retried", error.message)
        case .cancelled(let error): ("cancelled", error.message)
        case .snoozed: ("snoozed", nil)
        }
    }

    /// Lets go of `execution`. The job's next attempt may already run here (a short backoff
    /// lets it be claimed while this attempt's task winds down); that one stays listed.
    private func finished(_ execution: JobExecution, completed: Bool) {
        let history = runtime.configuration.completedHistory
        let id = execution.job.id
        state.withLock { state in
            if state.running[id] === execution { state.running[id] = nil }
            guard completed else { return }
            state.completed.insert(id, at: 0)
            if state.completed.count > history { state.completed.removeLast(state.completed.count - history) }
        }
    }
}
