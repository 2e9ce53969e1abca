import Foundation
import SpoolCore
import Synchronization

/// A store that forwards everything to another store, with three faults: pings wait while
/// `held` is shut (a dispatcher whose pings are late, as when its process stalls or the store
/// is slow), the next `lostClaimAnswers` claims are made but answered with an error (a
/// connection that dropped after the commit), and after ``stopAnswering()`` every call a
/// dispatcher makes waits, deaf to cancellation, until ``answerAgain()`` (a server behind a
/// network that dropped every packet).
final class FaultyStore: JobStore {
    let base: any JobStore
    let held = Gate()
    let lostClaimAnswers = Atomic<Int>(0)
    private let silence = Mutex<Gate?>(nil)

    /// Makes every call from now on wait until ``answerAgain()``.
    func stopAnswering() { silence.withLock { $0 = Gate() } }

    /// Lets the waiting calls and later ones through.
    func answerAgain() {
        let gate = silence.withLock { silence in
            defer { silence = nil }
            return silence
        }
        gate?.open()
    }

    private func answered() async {
        if let gate = silence.withLock({ $0 }) { await gate.wait() }
    }

    init(_ base: any JobStore, holdingPings: Bool = true) {
        self.base = base
        if !holdingPings { held.open() }
    }

    var events: StoreEvents { base.events }
    var limits: JobLimits { base.limits }

    func ping(_ ping: Ping, holding: [JobID]) async throws -> PingReply {
        await held.wait()
        await answered()
        return try await base.ping(ping, holding: holding)
    }

    func insert(_ jobs: [NewJob], now: Date) async throws -> [InsertResult] { try await base.insert(jobs, now: now) }
    func job(_ id: JobID) async throws -> Job? { try await base.job(id) }
    func jobs(_ query: JobQuery) async throws -> JobPage { try await base.jobs(query) }
    func claim(_ params: ClaimParams) async throws -> [Job] {
        await answered()
        let jobs = try await base.claim(params)
        if !jobs.isEmpty, lostClaimAnswers.wrappingSubtract(1, ordering: .relaxed).oldValue > 0 {
            throw SpoolError(.storeUnavailable, "the connection closed before the claim's answer arrived")
        }
        return jobs
    }
    func finish(_ finishes: [Finish], now: Date) async throws -> [Bool] {
        await answered()
        return try await base.finish(finishes, now: now)
    }
    func cancel(_ id: JobID, now: Date) async throws -> Job { try await base.cancel(id, now: now) }
    func retry(_ id: JobID, now: Date) async throws -> Job { try await base.retry(id, now: now) }
    func delete(_ ids: [JobID]) async throws -> [JobID] { try await base.delete(ids) }
    func prune(_ request: PruneRequest) async throws -> PruneOutcome {
        await answered()
        return try await base.prune(request)
    }
    func setQuotas(_ id: JobID, quotas: [String]) async throws -> Job { try await base.setQuotas(id, quotas: quotas) }
    func release(_ ids: [JobID], dispatcher: UUID, now: Date) async throws {
        await answered()
        try await base.release(ids, dispatcher: dispatcher, now: now)
    }
    func queues() async throws -> [QueueInfo] { try await base.queues() }
    func setPaused(_ queue: String, paused: Bool) async throws { try await base.setPaused(queue, paused: paused) }
    func quotas() async throws -> [QuotaInfo] { try await base.quotas() }
    func createQuota(_ name: String, size: Int) async throws -> QuotaInfo { try await base.createQuota(name, size: size) }
    func resizeQuota(_ name: String, size: Int) async throws -> QuotaInfo { try await base.resizeQuota(name, size: size) }
    func removeQuota(_ name: String) async throws { try await base.removeQuota(name) }
    func register(_ registration: DispatcherRegistration) async throws -> [Job] { try await base.register(registration) }
    func deactivate(_ dispatcher: UUID, now: Date) async throws {
        await answered()
        try await base.deactivate(dispatcher, now: now)
    }
    func dispatchers() async throws -> [DispatcherInfo] { try await base.dispatchers() }
    func rescue(deadBefore: Date, now: Date) async throws -> [Job] {
        await answered()
        return try await base.rescue(deadBefore: deadBefore, now: now)
    }
    func takeTurn(_ name: String, tick: Date) async throws -> Bool {
        await answered()
        return try await base.takeTurn(name, tick: tick)
    }
    func fireCron(schedule: String, tick: Date, job: NewJob, now: Date) async throws -> Job? {
        try await base.fireCron(schedule: schedule, tick: tick, job: job, now: now)
    }
}
