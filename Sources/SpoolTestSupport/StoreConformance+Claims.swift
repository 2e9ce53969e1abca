import Foundation
import SpoolCore

extension StoreConformance {
    /// Claims: order, limits, queues, run-at times, filters.
    static let claimCases: [StoreConformanceCase] = [
        StoreConformanceCase("a claim marks jobs running, held and leased, and counts the attempt") { store in
            let job = try await put(store)
            let claimed = try await claim(store, lease: .seconds(30))
            try expectEqual(claimed.map(\.id), [job.id], "claimed")
            let held = try await fetch(store, job.id)
            try expectEqual(held.state, .running, "state")
            try expectEqual(held.attempt, 1, "attempt")
            try expectEqual(held.dispatcher, dispatcherA, "holder")
            try expectEqual(held.startedAt, t0, "startedAt")
            try expectEqual(held.leaseExpiresAt, t0.addingTimeInterval(30), "lease")
            try expectEqual(try await claim(store, by: dispatcherB).count, 0, "a running job is not claimed twice")
        },
        StoreConformanceCase("a claimed job is the job as stored, on its first attempt and on its retry") { store in
            let job = try await put(store, "rich") {
                $0.payload = #"{"to":"ada"}"#
                $0.tags = ["mail", "urgent"]
                $0.uniqueKey = "rich-1"
                $0.priority = 3
                $0.maxAttempts = 3
                $0.timeout = .seconds(9)
                $0.traceContext = TraceContext(["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"])
            }
            try expectEqual(try await claim(store), [try await fetch(store, job.id)], "first attempt")
            let error = AttemptError(attempt: 1, name: "Flaky", type: "error", message: "try again", at: t0)
            try expectEqual(try await store.finish([Finish(id: job.id, dispatcher: dispatcherA, outcome: .failed(error, retryAt: t0))], now: t0),
                            [true], "failed")
            let retried = try await claim(store, at: t0.addingTimeInterval(1), by: dispatcherB, lease: .seconds(45))
            try expectEqual(retried, [try await fetch(store, job.id)], "second attempt")
            try expectEqual(retried.first?.errors.map(\.message), ["try again"], "the first attempt's error")
        },
        StoreConformanceCase("FIFO takes jobs in enqueue order and ignores priority") { store in
            let a = try await put(store) { $0.priority = 5 }
            let b = try await put(store) { $0.priority = 1 }
            let c = try await put(store) { $0.priority = 3 }
            try expectEqual(try await claim(store, limit: 3, policy: .fifo).map(\.id), [a.id, b.id, c.id], "order")
        },
        StoreConformanceCase("FIFO takes the jobs of one insert in the order given") { store in
            let jobs = (0..<40).map { NewJob(name: "batch", payload: JSONPayload(unchecked: "{\"i\":\($0)}"), priority: 40 - $0) }
            let inserted = try await store.insert(jobs, now: t0).map(\.job.id)
            try expectEqual(try await claim(store, limit: 40, policy: .fifo).map(\.id), inserted, "order")
        },
        StoreConformanceCase("the priority policy takes the lowest priority number first") { store in
            let a = try await put(store) { $0.priority = 5 }
            let b = try await put(store) { $0.priority = 1 }
            let c = try await put(store) { $0.priority = 3 }
            let d = try await put(store) { $0.priority = 1 }
            try expectEqual(try await claim(store, limit: 4, policy: .priority).map(\.id), [b.id, d.id, c.id, a.id], "order")
        },
        StoreConformanceCase("a claim hands out at most its limit") { store in
            _ = try await store.insert((0..<10).map { NewJob(name: "n\($0)") }, now: t0)
            try expectEqual(try await claim(store, limit: 4).count, 4, "first batch")
            try expectEqual(try await claim(store, limit: 4).count, 4, "second batch")
            try expectEqual(try await claim(store, limit: 4).count, 2, "the rest")
            try expectEqual(try await claim(store, limit: 0).count, 0, "limit zero")
        },
        StoreConformanceCase("a claim takes only from the named queues") { store in
            let mail = try await put(store) { $0.queue = "mail" }
            _ = try await put(store) { $0.queue = "video" }
            try expectEqual(try await claim(store, queues: ["mail"]).map(\.id), [mail.id], "mail only")
            try expectEqual(try await claim(store, queues: ["mail"]).count, 0, "no more mail")
            try expectEqual(try await claim(store, queues: ["video", "other"]).count, 1, "video")
        },
        StoreConformanceCase("a job scheduled for later waits for its time") { store in
            let later = try await put(store) { $0.runAt = t0.addingTimeInterval(10) }
            try expectEqual(later.state, .scheduled, "state")
            try expectEqual(try await claim(store, at: t0.addingTimeInterval(9)).count, 0, "too early")
            try expectEqual(try await claim(store, at: t0.addingTimeInterval(10)).map(\.id), [later.id], "on time")
        },
        StoreConformanceCase("FIFO orders by run-at time, so a due scheduled job precedes newer jobs") { store in
            let scheduled = try await put(store) { $0.runAt = t0.addingTimeInterval(5) }
            let fresh = try await put(store, at: t0.addingTimeInterval(6))
            try expectEqual(try await claim(store, limit: 2, at: t0.addingTimeInterval(7)).map(\.id), [scheduled.id, fresh.id], "order")
        },
        StoreConformanceCase("a filter by name pattern, tag or predicate selects what an agent takes") { store in
            let mail = try await put(store, "mail.send")
            let video = try await put(store, "video.encode") { $0.tags = ["slow"] }
            let other = try await put(store, "report") { $0.priority = 7 }
            try expectEqual(try await claim(store, filter: JobFilter(names: ["mail.*"])).map(\.id), [mail.id], "by name")
            try expectEqual(try await claim(store, filter: JobFilter(tags: ["slow"])).map(\.id), [video.id], "by tag")
            try expectEqual(try await claim(store, filter: JobFilter(predicate: { $0.priority == 6 })).count, 0, "predicate refuses")
            try expectEqual(try await claim(store, filter: JobFilter(predicate: { $0.priority == 7 })).map(\.id), [other.id], "predicate takes")
        },
        StoreConformanceCase("a filter skips non-matching jobs to reach matching ones further back") { store in
            _ = try await store.insert((0..<300).map { _ in NewJob(name: "bulk") }, now: t0)
            let wanted = try await put(store, "wanted")
            try expectEqual(try await claim(store, limit: 1, filter: JobFilter(names: ["wanted"])).map(\.id), [wanted.id], "found")
        },
    ]
}
