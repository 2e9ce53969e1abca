import Foundation
import SpoolCore

extension Dispatcher {
    /// Pings the store, renewing leases; cancels jobs whose cancellation was asked for
    /// elsewhere, abandons jobs another dispatcher now holds, and has the store rescue jobs it
    /// holds for this dispatcher that no agent runs (see ``ClaimsInFlight``). Keeps pinging
    /// during drain.
    func heartbeat() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.pingInterval)
            } catch {
                return
            }
            // The bound first, the running jobs after: a claim that ends in between has its jobs
            // in the agents by then, and one that begins later claims after the bound.
            let pingedAt = runtime.now()
            let unlistedBefore = runtime.claimsInFlight.oldest(orNow: pingedAt)
            let executions = agents.flatMap(\.runningExecutions)
            do {
                let reply = try await runtime.store.ping(
                    Ping(dispatcher: id, agents: agentInfo, now: pingedAt, lease: configuration.lease, rescueUnlistedBefore: unlistedBefore),
                    holding: executions.map(\.job.id))
                lastPing.withLock { $0 = max($0 ?? pingedAt, pingedAt) }
                for id in reply.cancelRequested { executions.first { $0.job.id == id }?.requestCancel() }
                for id in reply.lost where executions.first(where: { $0.job.id == id })?.abandon() == true {
                    runtime.events.warning("job \(id) is held elsewhere now; abandoned it here")
                }
                runtime.reportRescued(reply.rescued, otherwise: "held here without running")
            } catch {
                runtime.events.error("ping failed: \(error)")
            }
        }
    }

    /// Declares silent dispatchers dead and rescues their jobs and jobs with expired leases.
    ///
    /// Silence is measured from this dispatcher's own last ping, not from the clock: a
    /// dispatcher whose pings are late (a stalled process, a slow store) never declares itself
    /// dead, and does not judge others more harshly than it could be judged.
    func rescueLoop() async {
        while !runtime.isStopping {
            do {
                try await Task.sleep(for: configuration.pingInterval)
            } catch {
                return
            }
            guard !runtime.isStopping else { return }
            let now = runtime.now()
            let alive = min(lastPing.withLock { $0 } ?? now, now)
            do {
                let rescued = try await runtime.store.rescue(deadBefore: alive.addingTimeInterval(-configuration.deadAfter.seconds), now: now)
                runtime.reportRescued(rescued, otherwise: "its holder is gone")
            } catch {
                runtime.events.error("rescue failed: \(error)")
            }
        }
    }

    /// Fires each cron schedule's ticks; the store lets one dispatcher fire each tick.
    func cronLoop() async {
        var next: [String: Date] = [:]
        for schedule in configuration.cron { next[schedule.name] = schedule.expression.next(after: runtime.now()) }
        while !runtime.isStopping {
            let now = runtime.now()
            for schedule in configuration.cron {
                guard let tick = next[schedule.name], tick <= now else { continue }
                do {
                    var job = schedule.job
                    job.runAt = tick
                    if let job = try await runtime.store.fireCron(schedule: schedule.name, tick: tick, job: job, now: now) {
                        runtime.events.info("cron \(schedule.name) fired for \(ISO8601.format(tick)): job \(job.id)")
                    }
                } catch {
                    runtime.events.error("cron \(schedule.name) could not fire: \(error)")
                }
                next[schedule.name] = schedule.expression.next(after: max(tick, now))
            }
            let soonest = next.values.min() ?? now.addingTimeInterval(60)
            let wait = min(max(soonest.timeIntervalSince(runtime.now()), 0.01), 1)
            do {
                try await Task.sleep(for: .seconds(clamping: wait))
            } catch {
                return
            }
        }
    }

    /// The periodic task whose turns ``retentionLoop()`` takes (a name no cron schedule given
    /// on a command line can have).
    static let retentionTurn = "spool=retention"

    /// Deletes finished jobs past their retention age. Every ``DispatcherConfiguration/retentionInterval``
    /// one dispatcher of the store takes the turn and prunes each state in batches, pausing
    /// between batches so that claims get the write lock, until nothing is due or the next
    /// turn begins.
    func retentionLoop() async {
        let retention = configuration.retention, interval = configuration.retentionInterval.seconds
        guard !retention.keepsEverything, interval > 0 else { return }
        while !runtime.isStopping {
            do {
                try await Task.sleep(for: configuration.retentionInterval)
            } catch {
                return
            }
            let now = runtime.now()
            let tick = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / interval).rounded(.down) * interval)
            do {
                guard try await runtime.store.takeTurn(Self.retentionTurn, tick: tick) else { continue }
                try await prune(retention, now: now, until: tick.addingTimeInterval(interval))
            } catch is CancellationError {
                return
            } catch {
                runtime.events.error("retention could not delete finished jobs: \(error)")
            }
        }
    }

    /// One turn of retention: each state's jobs older than its age, a batch at a time.
    private func prune(_ retention: Retention, now: Date, until end: Date) async throws {
        var deleted: [String] = []
        for state in [JobState.completed, .cancelled, .discarded] {
            guard let age = retention.age(of: state) else { continue }
            let request = PruneRequest(state: state, finishedBefore: now.addingTimeInterval(-age.seconds), limit: configuration.pruneBatch)
            var total = 0
            while !runtime.isStopping, runtime.now() < end {
                let outcome = try await runtime.store.prune(request)
                total += outcome.deleted
                runtime.metrics.pruned(outcome.deleted, state: state)
                guard outcome.deleted == request.limit else { break }
                try await Task.sleep(for: Retention.pause(after: outcome.held, share: configuration.pruneShare))
            }
            if total > 0 { deleted.append("\(total) \(state)") }
        }
        if !deleted.isEmpty { runtime.events.info("retention deleted finished jobs: \(deleted.joined(separator: ", "))") }
    }
}
