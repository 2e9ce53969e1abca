import Foundation
import Synchronization

/// A store that keeps everything in memory, for unit tests and examples. It implements the
/// whole ``JobStore`` contract and passes the same conformance suite as the real stores.
public final class InMemoryJobStore: JobStore {
    struct State {
        var jobs: [JobID: Job] = [:]
        var sequence: [JobID: Int] = [:]
        var nextSequence = 0
        var paused: Set<String> = []
        var quotaSizes: [String: Int] = [:]
        var holders: [String: [JobID]] = [:]
        var dispatchers: [UUID: DispatcherInfo] = [:]
        var cronTicks: [String: Date] = [:]
        var random = SeededRandom()
    }

    let state = Mutex(State())

    public let events = StoreEvents()
    public let limits: JobLimits

    /// Creates an empty store.
    public init(limits: JobLimits = .default) {
        self.limits = limits
    }

    public func insert(_ jobs: [NewJob], now: Date) async throws -> [InsertResult] {
        for job in jobs { try job.validate(limits) }
        let results = try state.withLock { state in try state.insert(jobs, now: now) }
        let queues = Set(results.filter { $0.inserted && $0.job.state == .available }.map(\.job.queue))
        if !queues.isEmpty { events.publish(.jobsAvailable(queues: queues.sorted())) }
        return results
    }

    public func job(_ id: JobID) async throws -> Job? {
        state.withLock { $0.jobs[id] }
    }

    public func jobs(_ query: JobQuery) async throws -> JobPage {
        state.withLock { state in
            let matching = state.jobs.values
                .filter { job in
                    (query.queue.map { job.queue == $0 } ?? true)
                        && (query.state.map { job.state == $0 } ?? true)
                        && (query.name.map { job.name == $0 } ?? true)
                        && (query.after.map { job.id < $0 } ?? true)
                }
                .sorted { $0.id > $1.id }
            let page = Array(matching.prefix(max(0, query.limit)))
            let more = matching.count > page.count
            return JobPage(jobs: page, nextCursor: more ? page.last?.id : nil)
        }
    }

    public func claim(_ params: ClaimParams) async throws -> [Job] {
        guard params.limit > 0 else { return [] }
        return state.withLock { $0.claim(params) }
    }

    public func finish(_ finishes: [Finish], now: Date) async throws -> [Bool] {
        let (applied, finished, followUpQueues) = state.withLock { $0.finish(finishes, now: now, limits: limits) }
        if !finished.isEmpty { events.publish(.jobsFinished(finished)) }
        if !followUpQueues.isEmpty { events.publish(.jobsAvailable(queues: followUpQueues)) }
        return applied
    }

    public func cancel(_ id: JobID, now: Date) async throws -> Job {
        let job = try state.withLock { try $0.cancel(id, now: now) }
        switch job.state {
        case .running: events.publish(.cancelRequested(id))
        case .cancelled: events.publish(.jobsFinished([id: .cancelled]))
        default: break
        }
        return job
    }

    public func delete(_ ids: [JobID]) async throws -> [JobID] {
        state.withLock { state in
            ids.filter { id in
                guard let job = state.jobs[id], job.state.isTerminal else { return false }
                state.jobs[id] = nil
                state.sequence[id] = nil
                return true
            }
        }
    }

    public func retry(_ id: JobID, now: Date) async throws -> Job {
        let job = try state.withLock { try $0.retry(id, now: now) }
        events.publish(.jobsAvailable(queues: [job.queue]))
        return job
    }

    public func setQuotas(_ id: JobID, quotas: [String]) async throws -> Job {
        try state.withLock { state in
            guard var job = state.jobs[id] else { throw SpoolError(.jobNotFound, "no job with id \(id)") }
            guard job.state.isWaiting else {
                throw SpoolError(.invalidState, "job \(id) is \(job.state); only a waiting job's quotas can change")
            }
            try state.checkQuotasExist(quotas)
            job.quotas = quotas
            state.jobs[id] = job
            return job
        }
    }

    public func release(_ ids: [JobID], dispatcher: UUID, now: Date) async throws {
        let queues = state.withLock { state in
            var queues: Set<String> = []
            for id in ids {
                guard var job = state.jobs[id], job.state == .running, job.dispatcher == dispatcher else { continue }
                state.releaseHolds(id)
                job.state = .available
                job.attempt = max(0, job.attempt - 1)
                job.runAt = now
                job.leaseExpiresAt = nil
                job.cancelRequested = false
                state.jobs[id] = job
                queues.insert(job.queue)
            }
            return queues
        }
        if !queues.isEmpty { events.publish(.jobsAvailable(queues: queues.sorted())) }
    }

    public func queues() async throws -> [QueueInfo] {
        state.withLock { state in
            var infos: [String: QueueInfo] = [:]
            for name in state.paused { infos[name] = QueueInfo(name: name, paused: true, counts: [:]) }
            for job in state.jobs.values {
                infos[job.queue, default: QueueInfo(name: job.queue, paused: false, counts: [:])].counts[job.state, default: 0] += 1
            }
            return infos.values.sorted { $0.name < $1.name }
        }
    }

    public func setPaused(_ queue: String, paused: Bool) async throws {
        guard !queue.isEmpty else { throw SpoolError(.invalidArgument, "queue name must not be empty") }
        state.withLock { state in
            if paused { state.paused.insert(queue) } else { state.paused.remove(queue) }
        }
        if !paused { events.publish(.jobsAvailable(queues: [queue])) }
    }

    public func quotas() async throws -> [QuotaInfo] {
        state.withLock { state in
            state.quotaSizes.keys.sorted().map { QuotaInfo(name: $0, size: state.quotaSizes[$0]!, running: state.holders[$0] ?? []) }
        }
    }

    @discardableResult
    public func createQuota(_ name: String, size: Int) async throws -> QuotaInfo {
        try QuotaRules.check(name: name, size: size)
        return try state.withLock { state in
            guard state.quotaSizes[name] == nil else { throw SpoolError(.quotaExists, "quota '\(name)' already exists") }
            state.quotaSizes[name] = size
            return QuotaInfo(name: name, size: size, running: [])
        }
    }

    @discardableResult
    public func resizeQuota(_ name: String, size: Int) async throws -> QuotaInfo {
        try QuotaRules.check(name: name, size: size)
        let info = try state.withLock { state in
            guard state.quotaSizes[name] != nil else { throw SpoolError.unknownQuota(name) }
            state.quotaSizes[name] = size
            return QuotaInfo(name: name, size: size, running: state.holders[name] ?? [])
        }
        events.publish(.jobsAvailable(queues: []))
        return info
    }

    public func removeQuota(_ name: String) async throws {
        try state.withLock { state in
            guard state.quotaSizes.removeValue(forKey: name) != nil else { throw SpoolError.unknownQuota(name) }
            state.holders[name] = nil
        }
        events.publish(.jobsAvailable(queues: []))
    }

    public func register(_ registration: DispatcherRegistration) async throws -> [Job] {
        let rescued = try state.withLock { state in
            if let conflict = registration.conflict(with: state.dispatchers[registration.id]) { throw conflict }
            state.dispatchers[registration.id] = DispatcherInfo(
                id: registration.id, host: registration.host, pid: registration.pid, state: .active,
                startedAt: registration.now, lastPingAt: registration.now, agents: registration.agents)
            let orphans = state.jobs.values.filter { $0.state == .running && $0.dispatcher == registration.id }
            return orphans.sorted { $0.id < $1.id }.map {
                state.rescue($0.id, reason: "its dispatcher \(registration.id.uuidString.lowercased()) restarted after an unclean shutdown", now: registration.now)
            }
        }
        events.publishRescued(rescued)
        return rescued
    }

    public func ping(_ ping: Ping, holding: [JobID]) async throws -> PingReply {
        let reply = state.withLock { state in
            if var info = state.dispatchers[ping.dispatcher] {
                info.lastPingAt = ping.now
                info.state = .active
                info.agents = ping.agents
                state.dispatchers[ping.dispatcher] = info
            }
            var cancelRequested: [JobID] = [], lost: [JobID] = []
            let until = ping.now.addingTimeInterval(ping.lease.seconds)
            for id in holding {
                guard var job = state.jobs[id], job.state == .running, job.dispatcher == ping.dispatcher else {
                    lost.append(id)
                    continue
                }
                job.leaseExpiresAt = until
                state.jobs[id] = job
                if job.cancelRequested { cancelRequested.append(id) }
            }
            var rescued: [Job] = []
            if let before = ping.rescueUnlistedBefore {
                let listed = Set(holding)
                let unlisted = state.jobs.values.filter { job in
                    job.state == .running && job.dispatcher == ping.dispatcher && !listed.contains(job.id)
                        && (job.startedAt.map { $0 < before } ?? false)
                }
                rescued = unlisted.sorted { $0.id < $1.id }.map { state.rescue($0.id, reason: ping.unlistedReason, now: ping.now, ran: false) }
            }
            return PingReply(cancelRequested: cancelRequested, lost: lost, rescued: rescued)
        }
        events.publishRescued(reply.rescued)
        return reply
    }

    public func deactivate(_ dispatcher: UUID, now: Date) async throws {
        state.withLock { state in
            state.dispatchers[dispatcher]?.state = .inactive
            state.dispatchers[dispatcher]?.lastPingAt = now
        }
    }

    public func dispatchers() async throws -> [DispatcherInfo] {
        state.withLock { $0.dispatchers.values.sorted { $0.startedAt < $1.startedAt } }
    }

    public func rescue(deadBefore: Date, now: Date) async throws -> [Job] {
        let rescued = state.withLock { state in
            var dead: Set<UUID> = []
            for (id, info) in state.dispatchers where info.state == .active && info.lastPingAt < deadBefore {
                state.dispatchers[id]?.state = .dead
                dead.insert(id)
            }
            let victims = state.jobs.values.filter { job in
                job.state == .running
                    && (job.dispatcher.map(dead.contains) ?? false || (job.leaseExpiresAt.map { $0 < now } ?? false))
            }
            return victims.sorted { $0.id < $1.id }.map { job in
                let holder = job.dispatcher?.uuidString.lowercased() ?? "unknown"
                let reason = dead.contains(job.dispatcher ?? UUID())
                    ? "its dispatcher \(holder) stopped pinging" : "its lease held by dispatcher \(holder) expired"
                return state.rescue(job.id, reason: reason, now: now)
            }
        }
        events.publishRescued(rescued)
        return rescued
    }

    public func fireCron(schedule: String, tick: Date, job: NewJob, now: Date) async throws -> Job? {
        try job.validate(limits)
        let inserted: Job? = try state.withLock { state in
            if let last = state.cronTicks[schedule], last >= tick { return nil }
            let result = try state.insert([job], now: now)
            state.cronTicks[schedule] = tick
            return result.first?.job
        }
        if let inserted { events.publish(.jobsAvailable(queues: [inserted.queue])) }
        return inserted
    }
}

extension SpoolError {
    /// The error for a quota name no quota has.
    public static func unknownQuota(_ name: String) -> SpoolError {
        SpoolError(.unknownQuota, "unknown quota '\(name)'")
    }

    /// Job `id` cannot run again while `holder`, not finished, holds its unique key `key`.
    public static func uniqueKeyHeld(_ id: JobID, key: String, holder: String) -> SpoolError {
        SpoolError(.invalidState, "job \(id) cannot run again: its unique key '\(key)' is held by job \(holder), which is not finished")
    }
}

/// Rules every store applies to quota names and sizes.
public enum QuotaRules {
    /// Throws when the name is empty or the size is below 1.
    public static func check(name: String, size: Int) throws {
        guard !name.isEmpty else { throw SpoolError(.invalidArgument, "quota name must not be empty") }
        guard !name.utf8.contains(0) else { throw SpoolError(.invalidArgument, "quota name must not contain the NUL character") }
        guard size >= 1 else { throw SpoolError(.invalidArgument, "quota '\(name)' size must be at least 1, got \(size)") }
    }
}
