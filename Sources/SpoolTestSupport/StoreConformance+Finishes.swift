import Foundation
import SpoolCore

extension StoreConformance {
    /// Finishes: completions and their follow-ups, failures, snoozes, stale finishes, and a worker's step (`finishAndClaim`).
    static let finishCases: [StoreConformanceCase] = [
        StoreConformanceCase("completing records the result and enqueues follow-ups in the same step") { store in
            let job = try await put(store)
            _ = try await claim(store)
            let later = t0.addingTimeInterval(2)
            let applied = try await complete(store, job, at: later, result: #"{"ok":true}"#,
                                             followUps: [NewJob(name: "next", queue: "after")])
            try expect(applied, "applied")
            let done = try await fetch(store, job.id)
            try expectEqual(done.state, .completed, "state")
            try expectEqual(done.result, #"{"ok":true}"#, "result")
            try expectEqual(done.finishedAt, later, "finishedAt")
            try expectEqual(try await store.jobs(JobQuery(queue: "after")).jobs.map(\.name), ["next"], "follow-up")
        },
        StoreConformanceCase("a failed attempt is recorded and retried, then discarded when out of attempts") { store in
            let job = try await put(store) { $0.maxAttempts = 2 }
            _ = try await claim(store)
            let first = AttemptError(attempt: 1, name: "Boom", type: "error", message: "first", at: t0)
            _ = try await store.finish([Finish(id: job.id, dispatcher: dispatcherA, outcome: .failed(first, retryAt: t0.addingTimeInterval(5)))], now: t0)
            var current = try await fetch(store, job.id)
            try expectEqual(current.state, .retryable, "state after first failure")
            try expectEqual(current.errors, [first], "errors")
            try expectEqual(try await claim(store, at: t0.addingTimeInterval(4)).count, 0, "waits for its backoff")
            try expectEqual(try await claim(store, at: t0.addingTimeInterval(5)).map(\.attempt), [2], "second attempt")
            let second = AttemptError(attempt: 2, name: "Boom", type: "error", message: "second", at: t0.addingTimeInterval(6))
            _ = try await store.finish([Finish(id: job.id, dispatcher: dispatcherA, outcome: .failed(second, retryAt: nil))], now: t0.addingTimeInterval(6))
            current = try await fetch(store, job.id)
            try expectEqual(current.state, .discarded, "state after last failure")
            try expectEqual(current.errors, [first, second], "errors")
            try expectEqual(current.finishedAt, t0.addingTimeInterval(6), "finishedAt")
        },
        StoreConformanceCase("a finish from a dispatcher that no longer holds the job changes nothing") { store in
            let job = try await put(store)
            _ = try await claim(store, by: dispatcherA)
            _ = try await store.rescue(deadBefore: t0, now: t0.addingTimeInterval(60))
            _ = try await claim(store, at: t0.addingTimeInterval(60), by: dispatcherB)
            try expect(!(try await complete(store, job, by: dispatcherA)), "the stale finish is refused")
            let current = try await fetch(store, job.id)
            try expectEqual(current.state, .running, "still running")
            try expectEqual(current.dispatcher, dispatcherB, "held by the rescuer")
            try expect(try await complete(store, job, by: dispatcherB), "the holder's finish applies")
        },
        StoreConformanceCase("a snoozed job runs again later without using up an attempt") { store in
            let job = try await put(store)
            _ = try await claim(store)
            _ = try await store.finish([Finish(id: job.id, dispatcher: dispatcherA, outcome: .snoozed(until: t0.addingTimeInterval(30)))], now: t0)
            let current = try await fetch(store, job.id)
            try expectEqual(current.state, .scheduled, "state")
            try expectEqual(current.attempt, 0, "attempt given back")
            try expectEqual(try await claim(store, at: t0.addingTimeInterval(30)).map(\.attempt), [1], "runs again")
        },
        StoreConformanceCase("finishAndClaim records every finish in order, then claims for each agent in order") { store in
            let done = try await put(store), failed = try await put(store)
            _ = try await claim(store, limit: 2)
            let next = try await put(store), later = try await put(store), mail = try await put(store) { $0.queue = "mail" }
            let error = AttemptError(attempt: 1, name: "E", type: "error", message: "m", at: t0)
            let (applied, claimed) = try await store.finishAndClaim([
                Finish(id: done.id, dispatcher: dispatcherA, outcome: .completed(result: #"{"ok":1}"#, followUps: [])),
                Finish(id: failed.id, dispatcher: dispatcherA, outcome: .failed(error, retryAt: t0.addingTimeInterval(60))),
                Finish(id: next.id, dispatcher: dispatcherA, outcome: .completed(result: nil, followUps: [])),
            ], claims: [
                ClaimParams(dispatcher: dispatcherA, limit: 2, now: t0.addingTimeInterval(1)),
                ClaimParams(dispatcher: dispatcherA, queues: ["mail"], limit: 5, now: t0.addingTimeInterval(1)),
            ], now: t0.addingTimeInterval(1))
            try expectEqual(applied, [true, true, false], "a finish of a job not held does not apply")
            try expectEqual(claimed.map { $0.map(\.id) }, [[next.id, later.id], [mail.id]], "each claim in order")
            try expectEqual(try await fetch(store, done.id).state, .completed, "completed")
            try expectEqual(try await fetch(store, done.id).result, #"{"ok":1}"#, "with its result")
            let retried = try await fetch(store, failed.id)
            try expectEqual(retried.state, .retryable, "failed and retryable")
            try expectEqual(retried.errors.map(\.message), ["m"], "its error recorded")
        },
        StoreConformanceCase("a worker's plain completions in one finishAndClaim apply only to the jobs it holds") { store in
            let first = try await put(store), taken = try await put(store), last = try await put(store)
            try expectEqual(try await claim(store, limit: 1, by: dispatcherA).map(\.id), [first.id], "A holds the first")
            try expectEqual(try await claim(store, limit: 1, by: dispatcherB).map(\.id), [taken.id], "B the second")
            try expectEqual(try await claim(store, limit: 1, by: dispatcherA).map(\.id), [last.id], "A the third")
            let plain = JobOutcome.completed(result: nil, followUps: [])
            let (applied, _) = try await store.finishAndClaim([first, taken, last].map { Finish(id: $0.id, dispatcher: dispatcherA, outcome: plain) },
                                                              claims: [ClaimParams(dispatcher: dispatcherA, limit: 1, now: t0.addingTimeInterval(1))],
                                                              now: t0.addingTimeInterval(1))
            try expectEqual(applied, [true, false, true], "A's completion of B's job does not apply")
            let held = try await fetch(store, taken.id)
            try expectEqual(held.state, .running, "B's job still running")
            try expectEqual(held.dispatcher, dispatcherB, "held by B")
            let (mine, _) = try await store.finishAndClaim([Finish(id: taken.id, dispatcher: dispatcherB, outcome: plain)], claims: [],
                                                           now: t0.addingTimeInterval(2))
            try expectEqual(mine, [true], "the holder's plain completion applies")
            let done = try await fetch(store, taken.id)
            try expectEqual(done.state, .completed, "completed")
            try expectEqual(done.result, nil, "without a result")
            try expectEqual(done.finishedAt, t0.addingTimeInterval(2), "when its holder finished it")
            try expectEqual(try await fetch(store, first.id).finishedAt, t0.addingTimeInterval(1), "A's own completions applied")
        },
        StoreConformanceCase("in one finishAndClaim, the quota room a finish frees and the follow-ups it enqueues are claimable") { store in
            try await store.createQuota("one", size: 1)
            let first = try await put(store) { $0.quotas = ["one"] }
            let second = try await put(store) { $0.quotas = ["one"] }
            try expectEqual(try await claim(store, limit: 5).map(\.id), [first.id], "the quota holds the second back")
            let (applied, claimed) = try await store.finishAndClaim(
                [Finish(id: first.id, dispatcher: dispatcherA, outcome: .completed(result: nil, followUps: [NewJob(name: "follow.up")]))],
                claims: [ClaimParams(dispatcher: dispatcherA, limit: 5, now: t0.addingTimeInterval(1))], now: t0.addingTimeInterval(1))
            try expectEqual(applied, [true], "applied")
            let names = claimed[0].map(\.name).sorted(), ids = Set(claimed[0].map(\.id))
            try expectEqual(names, ["follow.up", "spool.noop"], "the follow-up and the job the quota held back")
            try expect(ids.contains(second.id), "the second job naming the quota")
        },
    ]
}
