import Foundation
import Logging
import SpoolCore
import Synchronization

/// Batches the ends of attempts: finishes that arrive while a batch is being written go into
/// the next one. A job's task hands its finish over and ends; once the batch is durable the
/// completer reports each job to its agent and signals the dispatcher once. Agents with a
/// backlog get the slots their finishing jobs free filled in the same store call.
///
/// Before it takes a batch the writer lets the tasks that are ready run first: jobs that a claim
/// started together mostly end together, and without the wait the first of them would go out
/// in a call of its own while the rest queue behind it (BENCHMARKS, "Where a drain's time goes
/// inside PostgreSQL": half the calls, and up to a third more jobs a second at 50 in flight).
final class Completer: Sendable {
    private struct Entry {
        let finish: Finish
        let execution: JobExecution
        let agent: AgentRunner
        let runSeconds: Double
    }

    private struct State {
        var pending: [Entry] = []
        var flushing = false
    }

    private let store: any JobStore
    private let now: @Sendable () -> Date
    private let claimsInFlight: ClaimsInFlight
    private let logger: Logger
    private let finished: @Sendable () -> Void
    private let state = Mutex(State())

    /// `finished` runs after each batch whose jobs the agents have let go of.
    init(store: any JobStore, now: @escaping @Sendable () -> Date, claimsInFlight: ClaimsInFlight, logger: Logger,
         finished: @escaping @Sendable () -> Void) {
        self.store = store
        self.now = now
        self.claimsInFlight = claimsInFlight
        self.logger = logger
        self.finished = finished
    }

    /// Records `finish` of `execution`, a job of `agent` that ran `runSeconds`; the agent hears
    /// through ``AgentRunner/recorded(_:outcome:applied:runSeconds:)`` whether the store applied
    /// it (`false` when the job is no longer held by this dispatcher, or the store could not be
    /// written).
    func finish(_ finish: Finish, of execution: JobExecution, by agent: AgentRunner, runSeconds: Double) {
        let start = state.withLock { state in
            state.pending.append(Entry(finish: finish, execution: execution, agent: agent, runSeconds: runSeconds))
            if state.flushing { return false }
            state.flushing = true
            return true
        }
        if start { Task { await self.flush() } }
    }

    private func flush() async {
        while true {
            await Task.yield()
            let batch = state.withLock { state in
                let batch = state.pending
                state.pending = []
                if batch.isEmpty { state.flushing = false }
                return batch
            }
            if batch.isEmpty { return }
            var finishing: [ObjectIdentifier: (agent: AgentRunner, count: Int)] = [:]
            for entry in batch { finishing[ObjectIdentifier(entry.agent), default: (entry.agent, 0)].count += 1 }
            let claims = finishing.values.compactMap { agent, count in
                agent.reserveFollowingClaim(finishing: count).map { (agent: agent, params: $0) }
            }
            let token = claims.map(\.params.now).min().map(claimsInFlight.begin)
            let (applied, claimed) = await write(batch.map(\.finish), claims: claims.map(\.params))
            for (claim, jobs) in zip(claims, claimed) { claim.agent.startClaimed(jobs, reserved: claim.params.limit) }
            if let token { claimsInFlight.end(token) }
            for (entry, didApply) in zip(batch, applied) {
                entry.agent.recorded(entry.execution, outcome: entry.finish.outcome, applied: didApply, runSeconds: entry.runSeconds)
            }
            finished()
        }
    }

    private func write(_ finishes: [Finish], claims: [ClaimParams]) async -> (applied: [Bool], claimed: [[Job]]) {
        for attempt in 1...5 {
            do {
                return try await store.finishAndClaim(finishes, claims: claims, now: now())
            } catch {
                logger.error("recording \(finishes.count) finished jobs failed (try \(attempt) of 5): \(error)")
                try? await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
        logger.error("gave up recording \(finishes.count) finished jobs; they will be rescued when their leases expire")
        return (Array(repeating: false, count: finishes.count), Array(repeating: [], count: claims.count))
    }
}
