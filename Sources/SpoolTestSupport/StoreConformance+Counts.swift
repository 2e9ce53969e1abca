import Foundation
import SpoolCore

extension StoreConformance {
    /// Counts: the per-queue, per-state counts of ``JobStore/queues()`` always equal a full count
    /// of the jobs, whatever mix of operations came before.
    static let countCases: [StoreConformanceCase] = [
        StoreConformanceCase("queue counts equal a full count of the jobs after a random mix of every operation") { store in
            try await store.createQuota("q", size: 2)
            var random = SeededRandom(seed: 20_261_205)
            var now = t0
            let queues = ["default", "mail", "bulk"]
            let error = AttemptError(attempt: 1, name: "Boom", type: "error", message: "failed", at: t0)
            func pick<T>(_ values: [T]) -> T? { values.isEmpty ? nil : values[Int(random.next() % UInt64(values.count))] }
            for step in 0..<400 {
                now = now.addingTimeInterval(Double(random.next() % 3))
                let all = try await everyJob(store)
                switch random.next() % 15 {
                case 0, 1:
                    let count = Int(random.next() % 4) + 1
                    let jobs = (0..<count).map { _ in
                        var job = NewJob(name: "spool.noop", queue: pick(queues)!, maxAttempts: Int(random.next() % 2) + 1)
                        if random.next() % 4 == 0 { job.runAt = now.addingTimeInterval(Double(random.next() % 5)) }
                        if random.next() % 5 == 0 { job.uniqueKey = "k\(random.next() % 3)" }
                        if random.next() % 5 == 0 { job.quotas = ["q"] }
                        return job
                    }
                    _ = try await store.insert(jobs, now: now)
                case 2, 3:
                    _ = try await claim(store, limit: Int(random.next() % 3) + 1, at: now, by: random.next() % 2 == 0 ? dispatcherA : dispatcherB)
                case 4, 5:
                    guard let job = pick(all.filter { $0.state == .running }) else { break }
                    let outcomes: [JobOutcome] = [.completed(result: nil, followUps: random.next() % 3 == 0 ? [NewJob(name: "next", queue: "mail")] : []),
                                                  .failed(error, retryAt: now.addingTimeInterval(1)), .failed(error, retryAt: nil),
                                                  .cancelled(error), .snoozed(until: now.addingTimeInterval(Double(random.next() % 3)))]
                    _ = try await store.finish([Finish(id: job.id, dispatcher: job.dispatcher!, outcome: pick(outcomes)!)], now: now)
                case 6:
                    if let job = pick(all) { _ = try await store.cancel(job.id, now: now) }
                case 7:
                    if let job = pick(all.filter { $0.state != .running }) { _ = try? await store.retry(job.id, now: now) }
                case 8:
                    if let job = pick(all.filter { $0.state == .running }) { try await store.release([job.id], dispatcher: job.dispatcher!, now: now) }
                case 9:
                    _ = try await store.rescue(deadBefore: now, now: now.addingTimeInterval(Double(random.next() % 60)))
                case 10:
                    if let job = pick(all) { _ = try await store.delete([job.id]) }
                case 12:
                    // A dispatcher restarting after an unclean shutdown: its running jobs are rescued.
                    _ = try await register(store, random.next() % 2 == 0 ? dispatcherA : dispatcherB, at: now)
                case 13:
                    // A ping that lists none of its jobs: those started before the bound are rescued.
                    _ = try await store.ping(Ping(dispatcher: dispatcherA, agents: [], now: now, lease: .seconds(30), rescueUnlistedBefore: now),
                                             holding: [])
                case 14:
                    _ = try await store.fireCron(schedule: "tick", tick: now, job: NewJob(name: "cron", queue: pick(queues)!), now: now)
                default:
                    if let state = pick([JobState.completed, .cancelled, .discarded]) {
                        _ = try await store.prune(PruneRequest(state: state, finishedBefore: now, limit: Int(random.next() % 3) + 1))
                    }
                }
                if step % 20 == 19 { try await expectCountsExact(store, after: "step \(step)") }
            }
            try await expectCountsExact(store, after: "the last step")
        },
    ]

    /// Every job in the store, from its listing.
    static func everyJob(_ store: any JobStore) async throws -> [Job] {
        var jobs: [Job] = [], after: JobID? = nil
        repeat {
            let page = try await store.jobs(JobQuery(limit: 500, after: after))
            jobs += page.jobs
            after = page.nextCursor
        } while after != nil
        return jobs
    }

    /// Throws unless ``JobStore/queues()`` counts every queue and state as a listing does.
    static func expectCountsExact(_ store: any JobStore, after what: String) async throws {
        var full: [String: [JobState: Int]] = [:]
        for job in try await everyJob(store) { full[job.queue, default: [:]][job.state, default: 0] += 1 }
        var counted: [String: [JobState: Int]] = [:]
        for queue in try await store.queues() where !queue.counts.isEmpty { counted[queue.name] = queue.counts }
        try expectEqual(counted, full, "queue counts after \(what)")
    }
}
