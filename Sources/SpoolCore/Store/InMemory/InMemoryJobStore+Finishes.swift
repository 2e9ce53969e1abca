import Foundation

extension InMemoryJobStore {
    public func finish(_ finishes: [Finish], now: Date) async throws -> [Bool] {
        let (applied, finished, followUpQueues) = state.withLock { $0.finish(finishes, now: now, limits: limits) }
        if !finished.isEmpty { events.publish(.jobsFinished(finished)) }
        if !followUpQueues.isEmpty { events.publish(.jobsAvailable(queues: followUpQueues)) }
        return applied
    }
}

extension InMemoryJobStore.State {
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
}
