import Foundation
import SpoolCore

extension StoreConformance {
    /// Jobs: enqueue, read, list, cancel, retry, delete, unique keys, limits.
    static let jobCases: [StoreConformanceCase] = [
        StoreConformanceCase("one insert into fifty queues with names of 200 characters stores every job, and so does one with quotas") { store in
            let queues = (0..<50).map { "q\($0)-" + String(repeating: "é", count: 200 - "q\($0)-".count) }
            let plain = try await store.insert(queues.map { NewJob(name: "spool.noop", queue: $0) }, now: t0)
            try expectEqual(plain.filter(\.inserted).count, 50, "all inserted")
            _ = try await store.createQuota("wide", size: 100)
            let full = try await store.insert(queues.map { NewJob(name: "spool.noop", queue: $0, quotas: ["wide"]) }, now: t0)
            try expectEqual(full.filter(\.inserted).count, 50, "all inserted, naming a quota")
            let listed = try await store.queues().filter { queues.contains($0.name) }
            try expectEqual(listed.count, 50, "fifty queues listed")
            try expect(listed.allSatisfy { $0.counts[.available] == 2 }, "two jobs waiting in each: \(listed.map(\.counts))")
        },
        StoreConformanceCase("an enqueued job reads back with every field") { store in
            var new = NewJob(name: "mail.send", payload: try JSONPayload(validating: #"{"to":"a@example.com","n":[1,2]}"#))
            new.queue = "mail"; new.priority = 4; new.tags = ["x", "y"]; new.uniqueKey = "k1"
            new.maxAttempts = 7; new.timeout = .milliseconds(1500)
            let result = try await store.insert([new], now: t0)
            try expect(result[0].inserted, "inserted")
            let job = try await fetch(store, result[0].job.id)
            try expectEqual(job, result[0].job, "read back equals what insert returned")
            try expectEqual(job.name, "mail.send", "name")
            try expectEqual(try job.payload.decode(JSONValue.self), try new.payload.decode(JSONValue.self), "payload")
            try expectEqual(job.queue, "mail", "queue")
            try expectEqual(job.state, .available, "state")
            try expectEqual(job.priority, 4, "priority")
            try expectEqual(job.attempt, 0, "attempt")
            try expectEqual(job.maxAttempts, 7, "maxAttempts")
            try expectEqual(job.tags, ["x", "y"], "tags")
            try expectEqual(job.uniqueKey, "k1", "uniqueKey")
            try expectEqual(job.timeout, .milliseconds(1500), "timeout")
            try expectEqual(job.createdAt, t0, "createdAt")
            try expectEqual(job.runAt, t0, "runAt")
            try expect(try await store.job(JobID.make()) == nil, "an unknown id reads as nil")
        },
        StoreConformanceCase("a job's trace context reads back, lists, and comes with its claim, alone or with a finish") { store in
            let context = TraceContext(["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "spool=1"])
            let traced = try await put(store, "traced") { $0.traceContext = context }
            let plain = try await put(store, "plain")
            let second = try await put(store, "traced") { $0.traceContext = context }
            try expectEqual(traced.traceContext, context, "insert returns it")
            try expectEqual(try await fetch(store, traced.id).traceContext, context, "read back")
            try expect(try await fetch(store, plain.id).traceContext.isEmpty, "none when none was given")
            try expectEqual(try await store.jobs(JobQuery(name: "traced")).jobs.map(\.traceContext), [context, context], "listed")
            let claimed = try await claim(store, limit: 1)
            try expectEqual(claimed.map(\.traceContext), [context], "claimed alone")
            let (_, next) = try await store.finishAndClaim(
                [Finish(id: traced.id, dispatcher: dispatcherA, outcome: .completed(result: nil, followUps: []))],
                claims: [ClaimParams(dispatcher: dispatcherA, limit: 5, now: t0.addingTimeInterval(1))], now: t0.addingTimeInterval(1))
            try expectEqual(next[0].map(\.id), [plain.id, second.id], "claimed with a finish, in order")
            try expectEqual(next[0].map(\.traceContext), [TraceContext(), context], "each with its own context")
        },
        StoreConformanceCase("deleting removes finished jobs only, and their queue with the last of them") { store in
            let done = try await put(store) { $0.queue = "once" }
            let running = try await put(store) { $0.queue = "once" }
            let waiting = try await put(store) { $0.queue = "other"; $0.uniqueKey = "k" }
            _ = try await claim(store, limit: 2)
            try expect(try await complete(store, done), "completed")
            let cancelled = try await put(store) { $0.queue = "once"; $0.uniqueKey = "gone" }
            _ = try await store.cancel(cancelled.id, now: t0)
            let deleted = try await store.delete([done.id, running.id, waiting.id, cancelled.id, JobID.make()])
            try expectEqual(deleted, [done.id, cancelled.id], "only the finished jobs, in the order given")
            let gone = try await store.job(done.id) == nil, alsoGone = try await store.job(cancelled.id) == nil
            try expect(gone && alsoGone, "gone")
            try expectEqual(try await fetch(store, running.id).state, .running, "a running job is kept")
            try expectEqual(try await fetch(store, waiting.id).state, .available, "a waiting job is kept")
            try expectEqual(try await store.jobs(JobQuery(queue: "once")).jobs.map(\.id), [running.id], "listed no more")
            try expectEqual(try await store.delete([done.id]), [], "deleting again deletes nothing")
            try expect(try await complete(store, running), "completed")
            _ = try await store.delete([running.id])
            try expect(!(try await store.queues().map(\.name).contains("once")), "the queue with no jobs left is gone")
            try expect(try await store.insert([NewJob(name: "again", uniqueKey: "gone")], now: t0)[0].inserted, "its unique key is free")
        },
        StoreConformanceCase("a finished job whose unique key another unfinished job took cannot be retried; nothing changes") { store in
            let first = try await put(store) { $0.uniqueKey = "nightly" }
            _ = try await store.cancel(first.id, now: t0)
            let second = try await put(store) { $0.uniqueKey = "nightly" }
            let error = try await expectSpoolError(.invalidState) { try await store.retry(first.id, now: t0) }
            try expect(error.message.contains(second.id.description), "names the holder: \(error.message)")
            try expectEqual(try await fetch(store, first.id).state, .cancelled, "still cancelled")
            _ = try await store.cancel(second.id, now: t0)
            try expectEqual(try await store.retry(first.id, now: t0).state, .available, "retried once the key is free")
        },
        StoreConformanceCase("a NUL character in a name, queue, unique key, quota or tag is refused, and nothing is stored") { store in
            for job in [NewJob(name: "a\u{0}b"), NewJob(name: "x", queue: "q\u{0}"), NewJob(name: "x", uniqueKey: "k\u{0}"),
                        NewJob(name: "x", tags: ["t\u{0}"])] {
                let error = try await expectSpoolError(.invalidArgument) { try await store.insert([job], now: t0) }
                try expect(error.message.contains("NUL"), "names the character: \(error.message)")
            }
            try await expectSpoolError(.invalidArgument) { try await store.createQuota("q\u{0}", size: 1) }
            try expectEqual(try await store.jobs(JobQuery()).jobs.count, 0, "nothing stored")
        },
        StoreConformanceCase("a payload over the limit is refused and nothing is stored") { store in
            let big = try JSONPayload(validating: "\"" + String(repeating: "x", count: store.limits.maxPayloadBytes) + "\"")
            let error = try await expectSpoolError(.payloadTooLarge) {
                try await store.insert([NewJob(name: "small"), NewJob(name: "big", payload: big)], now: t0)
            }
            try expect(error.message.contains("big"), "the message names the job: \(error.message)")
            try expectEqual(try await store.jobs(JobQuery()).jobs.count, 0, "jobs stored")
        },
        StoreConformanceCase("a unique key returns the existing job until it is terminal") { store in
            let first = try await store.insert([NewJob(name: "a", uniqueKey: "once")], now: t0)[0]
            let again = try await store.insert([NewJob(name: "a", uniqueKey: "once"), NewJob(name: "a", uniqueKey: "once")], now: t0)
            try expect(first.inserted, "first inserted")
            try expectEqual(again.map(\.inserted), [false, false], "duplicates not inserted")
            try expectEqual(again.map(\.job.id), [first.job.id, first.job.id], "the existing job is returned")
            _ = try await claim(store)
            try expectEqual(try await store.insert([NewJob(name: "a", uniqueKey: "once")], now: t0)[0].job.id, first.job.id, "while running")
            _ = try await complete(store, first.job)
            let after = try await store.insert([NewJob(name: "a", uniqueKey: "once")], now: t0)[0]
            try expect(after.inserted && after.job.id != first.job.id, "a new job once the first completed")
            let pair = try await store.insert([NewJob(name: "b", uniqueKey: "pair"), NewJob(name: "b", uniqueKey: "pair")], now: t0)
            try expectEqual(pair.map(\.inserted), [true, false], "duplicates within one batch")
            try expectEqual(pair[1].job.id, pair[0].job.id, "the batch's first job is returned")
        },
        StoreConformanceCase("cancelling a waiting job ends it at once; a running one is asked to stop") { store in
            let waiting = try await put(store) { $0.runAt = t0.addingTimeInterval(100) }
            let cancelled = try await store.cancel(waiting.id, now: t0)
            try expectEqual(cancelled.state, .cancelled, "waiting job cancelled")
            try expectEqual(cancelled.finishedAt, t0, "finishedAt")
            let running = try await put(store)
            _ = try await claim(store)
            let asked = try await store.cancel(running.id, now: t0)
            try expectEqual(asked.state, .running, "still running")
            try expect(asked.cancelRequested, "cancel requested")
            let reply = try await store.ping(Ping(dispatcher: dispatcherA, agents: [], now: t0, lease: .seconds(30)), holding: [running.id])
            try expectEqual(reply.cancelRequested, [running.id], "the holder learns of it on its ping")
            let reason = AttemptError(attempt: 1, name: "CancellationError", type: "cancelled", message: "cancelled", at: t0)
            _ = try await store.finish([Finish(id: running.id, dispatcher: dispatcherA, outcome: .cancelled(reason))], now: t0)
            try expectEqual(try await fetch(store, running.id).state, .cancelled, "recorded as cancelled")
            try expectEqual(try await store.cancel(running.id, now: t0).state, .cancelled, "cancelling again changes nothing")
            try await expectSpoolError(.jobNotFound) { try await store.cancel(JobID.make(), now: t0) }
        },
        StoreConformanceCase("retrying a discarded job makes it available with one more attempt") { store in
            let job = try await put(store) { $0.maxAttempts = 1 }
            _ = try await claim(store)
            try await expectSpoolError(.invalidState) { try await store.retry(job.id, now: t0) }
            let error = AttemptError(attempt: 1, name: "Boom", type: "error", message: "boom", at: t0)
            _ = try await store.finish([Finish(id: job.id, dispatcher: dispatcherA, outcome: .failed(error, retryAt: nil))], now: t0)
            let retried = try await store.retry(job.id, now: t0.addingTimeInterval(1))
            try expectEqual(retried.state, .available, "state")
            try expectEqual(retried.maxAttempts, 2, "one more attempt")
            try expectEqual(retried.finishedAt, nil, "finishedAt cleared")
            try expectEqual(try await claim(store, at: t0.addingTimeInterval(1)).map(\.attempt), [2], "runs again")
        },
        StoreConformanceCase("listing filters by queue, state and name and pages with a cursor") { store in
            for i in 0..<5 { _ = try await put(store, "n\(i % 2)") { $0.queue = i < 3 ? "a" : "b" } }
            _ = try await claim(store, limit: 1, queues: ["b"])
            try expectEqual(try await store.jobs(JobQuery(queue: "a")).jobs.count, 3, "queue a")
            try expectEqual(try await store.jobs(JobQuery(state: .running)).jobs.count, 1, "running")
            try expectEqual(try await store.jobs(JobQuery(name: "n0")).jobs.count, 3, "name n0")
            let first = try await store.jobs(JobQuery(limit: 2))
            try expectEqual(first.jobs.count, 2, "page size")
            try expect(first.nextCursor != nil, "a cursor for more")
            let second = try await store.jobs(JobQuery(limit: 2, after: first.nextCursor))
            let third = try await store.jobs(JobQuery(limit: 2, after: second.nextCursor))
            try expectEqual(third.nextCursor, nil, "last page")
            let all = (first.jobs + second.jobs + third.jobs).map(\.id)
            try expectEqual(Set(all).count, 5, "every job once")
            try expectEqual(all, all.sorted(by: >), "newest first")
        },
        StoreConformanceCase("listing by each state pages through exactly that state's jobs, newest first, in every queue and in one") { store in
            var made: [JobState: [(queue: String, id: JobID)]] = [:]
            let later = t0.addingTimeInterval(3600)
            // Two rounds over two queues, each leaving one job in every state but available
            // (claims take the oldest available job, so the available ones come last).
            for _ in 0..<2 {
                for queue in ["a", "b"] {
                    func claimed(_ configure: (inout NewJob) -> Void = { _ in }) async throws -> Job {
                        let job = try await put(store) { $0.queue = queue; configure(&$0) }
                        try expectEqual(try await claim(store, limit: 1, queues: [queue]).map(\.id), [job.id], "claimed in \(queue)")
                        return job
                    }
                    func failed(_ job: Job, retryAt: Date?) async throws {
                        let error = AttemptError(attempt: 1, name: "Boom", type: "error", message: "boom", at: t0)
                        _ = try await store.finish([Finish(id: job.id, dispatcher: dispatcherA, outcome: .failed(error, retryAt: retryAt))], now: t0)
                    }
                    made[.running, default: []].append((queue, try await claimed().id))
                    let completed = try await claimed()
                    _ = try await complete(store, completed)
                    made[.completed, default: []].append((queue, completed.id))
                    let retryable = try await claimed { $0.maxAttempts = 3 }
                    try await failed(retryable, retryAt: later)
                    made[.retryable, default: []].append((queue, retryable.id))
                    let discarded = try await claimed { $0.maxAttempts = 1 }
                    try await failed(discarded, retryAt: nil)
                    made[.discarded, default: []].append((queue, discarded.id))
                    let cancelled = try await put(store) { $0.queue = queue }
                    _ = try await store.cancel(cancelled.id, now: t0)
                    made[.cancelled, default: []].append((queue, cancelled.id))
                    made[.scheduled, default: []].append((queue, try await put(store) { $0.queue = queue; $0.runAt = later }.id))
                }
            }
            for queue in ["a", "b", "a"] { made[.available, default: []].append((queue, try await put(store) { $0.queue = queue }.id)) }
            for state in JobState.allCases {
                for queue in [nil, "a", "b"] {
                    var listed: [Job] = [], cursor: JobID? = nil
                    repeat {
                        let page = try await store.jobs(JobQuery(queue: queue, state: state, limit: 1, after: cursor))
                        listed += page.jobs
                        cursor = page.nextCursor
                    } while cursor != nil && listed.count < 20
                    let expected = Set((made[state] ?? []).filter { queue == nil || $0.queue == queue }.map(\.id))
                    let ids = listed.map(\.id)
                    try expectEqual(Set(ids), expected, "\(state) jobs of queue \(queue ?? "any")")
                    try expectEqual(ids, ids.sorted(by: >), "\(state) jobs of queue \(queue ?? "any"), newest first")
                    try expect(listed.allSatisfy { $0.state == state }, "only \(state) jobs")
                }
            }
        },
    ]
}
