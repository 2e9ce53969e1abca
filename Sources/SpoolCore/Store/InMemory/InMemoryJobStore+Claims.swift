import Foundation

extension InMemoryJobStore {
    public func claim(_ params: ClaimParams) async throws -> [Job] {
        guard params.limit > 0 else { return [] }
        return state.withLock { $0.claim(params) }
    }
}

extension InMemoryJobStore.State {
    mutating func claim(_ params: ClaimParams) -> [Job] {
        for (id, job) in jobs where (job.state == .scheduled || job.state == .retryable) && job.runAt <= params.now {
            jobs[id]?.state = .available
        }
        let candidates = jobs.values
            .filter { job in
                job.state == .available && !paused.contains(job.queue)
                    && (params.queues.map { $0.contains(job.queue) } ?? true)
            }
            .sorted { a, b in
                if params.policy == .priority, a.priority != b.priority { return a.priority < b.priority }
                if a.runAt != b.runAt { return a.runAt < b.runAt }
                return sequence[a.id, default: 0] < sequence[b.id, default: 0]
            }
        var ledger = QuotaLedger(sizes: quotaSizes, running: holders.mapValues(\.count))
        var claimed: [Job] = []
        let lease = params.now.addingTimeInterval(params.lease.seconds)
        for var job in candidates where claimed.count < params.limit {
            guard params.filter.matches(job), let held = ledger.admit(job.quotas) else { continue }
            for name in held { holders[name, default: []].append(job.id) }
            job.claim(by: params.dispatcher, now: params.now, leaseUntil: lease)
            jobs[job.id] = job
            claimed.append(job)
        }
        return claimed
    }
}
