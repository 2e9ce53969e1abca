import Foundation

extension InMemoryJobStore {
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

    public func cancel(_ id: JobID, now: Date) async throws -> Job {
        let job = try state.withLock { try $0.cancel(id, now: now) }
        switch job.state {
        case .running: events.publish(.cancelRequested(id))
        case .cancelled: events.publish(.jobsFinished([id: .cancelled]))
        default: break
        }
        return job
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

    public func prune(_ request: PruneRequest) async throws -> PruneOutcome {
        try request.validate()
        let started = ContinuousClock.now
        return state.withLock { state in
            let chosen = state.jobs.values
                .filter { $0.state == request.state && ($0.finishedAt ?? .distantFuture) < request.finishedBefore }
                .sorted { ($0.finishedAt!, state.sequence[$0.id] ?? 0) < ($1.finishedAt!, state.sequence[$1.id] ?? 0) }
                .prefix(request.limit)
            if !request.dryRun {
                for job in chosen {
                    state.jobs[job.id] = nil
                    state.sequence[job.id] = nil
                }
            }
            return PruneOutcome(deleted: chosen.count, held: ContinuousClock.now - started)
        }
    }
}

extension InMemoryJobStore.State {
    func checkQuotasExist(_ names: [String]) throws {
        if let unknown = names.first(where: { quotaSizes[$0] == nil }) { throw SpoolError.unknownQuota(unknown) }
    }

    mutating func insert(_ newJobs: [NewJob], now: Date) throws -> [InsertResult] {
        for new in newJobs { try checkQuotasExist(new.quotas) }
        var results: [InsertResult] = []
        results.reserveCapacity(newJobs.count)
        for new in newJobs {
            if let key = new.uniqueKey,
               let existing = jobs.values.first(where: { $0.uniqueKey == key && !$0.state.isTerminal }) {
                results.append(InsertResult(job: existing, inserted: false))
                continue
            }
            let job = Job(new: new, id: JobID.make(at: now, using: &random), now: now)
            jobs[job.id] = job
            sequence[job.id] = nextSequence
            nextSequence += 1
            results.append(InsertResult(job: job, inserted: true))
        }
        return results
    }

    mutating func cancel(_ id: JobID, now: Date) throws -> Job {
        guard var job = jobs[id] else { throw SpoolError(.jobNotFound, "no job with id \(id)") }
        if job.state == .running {
            job.cancelRequested = true
        } else if job.state.isWaiting {
            job.state = .cancelled
            job.finishedAt = now
        }
        jobs[id] = job
        return job
    }

    mutating func retry(_ id: JobID, now: Date) throws -> Job {
        guard var job = jobs[id] else { throw SpoolError(.jobNotFound, "no job with id \(id)") }
        if job.state.isTerminal, let key = job.uniqueKey,
           let holder = jobs.values.first(where: { $0.uniqueKey == key && !$0.state.isTerminal && $0.id != id }) {
            throw SpoolError.uniqueKeyHeld(id, key: key, holder: holder.id.description)
        }
        try job.retry(now: now)
        jobs[id] = job
        return job
    }
}
