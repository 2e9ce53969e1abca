import Foundation

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

    mutating func releaseHolds(_ id: JobID) {
        for name in holders.keys { holders[name]?.removeAll { $0 == id } }
    }

    mutating func finish(_ finishes: [Finish], now: Date, limits: JobLimits) -> ([Bool], [JobID: JobState], [String]) {
        var applied: [Bool] = [], finished: [JobID: JobState] = [:], followUpQueues: Set<String> = []
        for finish in finishes {
            guard var job = jobs[finish.id], job.state == .running, job.dispatcher == finish.dispatcher else {
                applied.append(false)
                continue
            }
            releaseHolds(job.id)
            if case .completed(_, let followUps) = finish.outcome {
                do {
                    for new in followUps { try new.validate(limits) }
                    for inserted in try insert(followUps, now: now) where inserted.inserted {
                        followUpQueues.insert(inserted.job.queue)
                    }
                    job.finish(finish.outcome, now: now)
                } catch {
                    job.finish(.failed(AttemptError(attempt: job.attempt, name: "FollowUpRejected", type: "error",
                                                    message: "follow-up jobs were refused: \(error)", at: now), retryAt: nil), now: now)
                }
            } else {
                job.finish(finish.outcome, now: now)
            }
            jobs[job.id] = job
            finished[job.id] = job.state
            applied.append(true)
        }
        return (applied, finished, followUpQueues.sorted())
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

    mutating func rescue(_ id: JobID, reason: String, now: Date, ran: Bool = true) -> Job {
        var job = jobs[id]!
        releaseHolds(id)
        job.rescue(reason: reason, now: now, ran: ran)
        jobs[id] = job
        return job
    }
}
