import Foundation
import Logging
import Metrics
import ServiceLifecycle
import SpoolCore
import Synchronization

/// One worker process's engine: registers with the store under its persistent UUID, runs its
/// agents, pings, rescues the jobs of dead dispatchers, fires cron ticks, deletes finished jobs
/// past their retention, and shuts down gracefully.
///
/// Run it in a `ServiceGroup` (SIGTERM and SIGINT begin a graceful shutdown) or call ``run()``
/// and later ``stop()``. On shutdown it stops claiming, lets running jobs finish for up to the
/// grace period, returns the rest to the queue, and records itself inactive. A store that stops
/// answering cannot hold the shutdown up: its calls are given up on after
/// ``DispatcherConfiguration/shutdownTimeout``, and what the dispatcher held is rescued after its
/// leases.
public final class Dispatcher: Service, Sendable {
    /// The dispatcher's configuration.
    public let configuration: DispatcherConfiguration
    let runtime: DispatcherRuntime
    let agents: [AgentRunner]
    private let stopped = Wakeup()
    /// The time this dispatcher last told the store it is alive (registration or a ping).
    let lastPing = Mutex<Date?>(nil)
    /// The identity file this process holds while the dispatcher lives, if it came from one.
    public let identity: DispatcherIdentity?

    /// Creates a dispatcher over `store` running the jobs in `registry`.
    ///
    /// `observer` receives every lifecycle event (registration, job starts and ends, rescues);
    /// `metrics` makes its counters and timers (the process-wide metrics system by default).
    /// `identity`, when given, is held (its file locked) for as long as the dispatcher lives.
    public init(store: any JobStore, registry: JobRegistry, configuration: DispatcherConfiguration,
                identity: DispatcherIdentity? = nil, observer: DispatcherObserver? = nil,
                metrics: (any MetricsFactory)? = nil, now: @escaping @Sendable () -> Date = { Date() }) {
        self.configuration = configuration
        self.identity = identity
        let runtime = DispatcherRuntime(store: store, registry: registry, configuration: configuration, observer: observer,
                                        metrics: metrics, now: now)
        self.runtime = runtime
        self.agents = configuration.agents.map { AgentRunner(spec: $0, runtime: runtime) }
        runtime.wakeOnJobFinished(agents.map(\.wakeup))
    }

    /// The dispatcher's UUID.
    public var id: UUID { configuration.id }

    /// Its agents as they are now: running jobs and recent completions.
    public var agentInfo: [AgentInfo] { agents.map(\.info) }

    /// How many jobs run in this dispatcher now.
    public var runningCount: Int { agents.reduce(0) { $0 + $1.runningCount } }

    /// Begins a graceful shutdown; ``run()`` returns once it is complete.
    public func stop() {
        runtime.stop()
        for agent in agents { agent.wakeup.signal() }
        stopped.signal()
    }

    /// Runs until ``stop()`` or a graceful shutdown of the service group.
    ///
    /// Cancelling the task that runs it stops it at once: it claims nothing more, returns the
    /// jobs it is running to the queue without waiting for the grace period, and records itself
    /// inactive before returning.
    ///
    /// It throws ``SpoolError/Code/storeUnavailable`` when the store did not record the
    /// dispatcher inactive within ``DispatcherConfiguration/shutdownTimeout``.
    public func run() async throws {
        let store = runtime.store, events = runtime.events
        let registeredAt = runtime.now()
        let rescued = try await store.register(DispatcherRegistration(
            id: id, host: ProcessInfo.processInfo.hostName, pid: Int(ProcessInfo.processInfo.processIdentifier),
            agents: agentInfo, now: registeredAt, deadAfter: configuration.deadAfter))
        lastPing.withLock { $0 = registeredAt }
        events.info("dispatcher registered", metadata: ["agents": "\(configuration.agents.map(\.description))",
                                                        "queues": "\(configuration.queues?.description ?? "*")"])
        runtime.observe(.registered(id))
        runtime.reportRescued(rescued, otherwise: "this dispatcher shut down uncleanly")
        events.info("dispatcher activated")
        runtime.observe(.activated(id))
        let background = [Task { await self.listen() }, Task { await self.heartbeat() }, Task { await self.rescueLoop() },
                          Task { await self.retentionLoop() }] + (configuration.cron.isEmpty ? [] : [Task { await self.cronLoop() }])
        let agentTasks = agents.map { agent in Task { await agent.run() } }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                while !runtime.isStopping { await stopped.wait(timeout: .seconds(3600)) }
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
            for task in agentTasks { task.cancel() }
        }
        let deadline = ContinuousClock.now + (Task.isCancelled ? .zero : configuration.gracePeriod)
        // The agents end once stopping, each after starting what a claim in flight brought: the
        // shutdown then sees every job this dispatcher holds. A claim the store has not answered by
        // the end of the grace period (or of the shutdown timeout, if longer) is given up on: what
        // it took is rescued after its lease.
        let agentsEnded = try await unlessLate(max(deadline, .now + configuration.shutdownTimeout)) {
            for task in agentTasks { await task.value }
        }
        if agentsEnded == nil { events.warning("a claim was still unanswered at shutdown; the jobs it took will be rescued") }
        await waitForJobs(until: deadline)
        // From here on the store gets one budget for everything left to say.
        let closing = ContinuousClock.now + configuration.shutdownTimeout
        await returnLeftovers(before: closing)
        for task in background { task.cancel() }
        _ = try await unlessLate(closing) { for task in background { await task.value } }
        guard try await unlessLate(closing, { [runtime, id] in try await store.deactivate(id, now: runtime.now()) }) != nil else {
            throw SpoolError(.storeUnavailable, "the store did not answer the shutdown within \(configuration.shutdownTimeout), so this "
                             + "dispatcher is not recorded inactive; others will declare it dead after \(configuration.deadAfter) and rescue its jobs")
        }
        events.info("dispatcher deactivated")
        runtime.observe(.deactivated(id))
    }

    /// Waits for running jobs until `deadline`.
    private func waitForJobs(until deadline: ContinuousClock.Instant) async {
        while runningCount > 0, ContinuousClock.now < deadline {
            await runtime.drained.wait(timeout: .milliseconds(50))
        }
    }

    /// Returns the jobs still running to the queue, giving up on the store at `closing`.
    private func returnLeftovers(before closing: ContinuousClock.Instant) async {
        let leftovers = agents.flatMap(\.runningExecutions).filter { $0.abandon() }
        guard !leftovers.isEmpty else { return }
        do {
            let ids = leftovers.map(\.job.id)
            guard try await unlessLate(closing, { [runtime, id] in
                try await runtime.store.release(ids, dispatcher: id, now: runtime.now())
            }) != nil else {
                runtime.events.error("the store did not take back \(leftovers.count) unfinished jobs in time; they will be rescued")
                return
            }
            runtime.events.warning("returned \(leftovers.count) unfinished jobs to the queue after the grace period")
        } catch {
            runtime.events.error("could not return \(leftovers.count) unfinished jobs to the queue: \(error); they will be rescued")
        }
    }

    /// Wakes agents on in-process events and cancels jobs on request without waiting for a ping.
    private func listen() async {
        for await event in runtime.store.events.subscribe(to: [.jobsAvailable, .cancelRequested]) {
            switch event {
            case .jobsAvailable(let queues):
                guard configuration.queues.map({ mine in queues.isEmpty || queues.contains(where: mine.contains) }) ?? true else { continue }
                for agent in agents { agent.wakeup.signal() }
            case .jobsFinished:
                continue  // not subscribed to
            case .cancelRequested(let id):
                for agent in agents { agent.execution(id)?.requestCancel() }
            }
        }
    }
}
