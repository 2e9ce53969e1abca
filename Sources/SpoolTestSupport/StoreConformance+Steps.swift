import Foundation
import SpoolCore
import Synchronization

extension StoreConformance {
    /// A worker's step (`finishAndClaim`) and the events a store announces.
    static let stepCases: [StoreConformanceCase] = [
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
        StoreConformanceCase("a store announces what it commits: available jobs, finished jobs, cancel requests") { store in
            let events = store.events.subscribe()
            let running = try await put(store) { $0.queue = "announced" }
            _ = try await claim(store, limit: 1)
            let waiting = try await put(store) { $0.queue = "announced" }
            _ = try await store.cancel(running.id, now: t0)
            _ = try await store.cancel(waiting.id, now: t0)
            let other = try await put(store) { $0.queue = "announced" }
            _ = try await claim(store, limit: 5)
            _ = try await complete(store, other)
            var seen: [StoreEvent] = []
            try await collect(events, into: &seen) { seen in
                seen.contains(.jobsFinished([other.id: .completed])) && seen.contains(.jobsFinished([waiting.id: .cancelled]))
                    && seen.contains(.cancelRequested(running.id))
                    && seen.contains { if case .jobsAvailable(let queues) = $0 { queues.contains("announced") } else { false } }
            }
        },
    ]

    /// Reads `events` into `seen` until `done` holds, failing after two seconds.
    static func collect(_ events: AsyncStream<StoreEvent>, into seen: inout [StoreEvent],
                        until done: @escaping @Sendable ([StoreEvent]) -> Bool) async throws {
        let collected = Mutex<[StoreEvent]>([])
        let reader = Task {
            for await event in events {
                if collected.withLock({ $0.append(event); return done($0) }) { return }
            }
        }
        let deadline = ContinuousClock.now + .seconds(2)
        while !done(collected.withLock { $0 }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        reader.cancel()
        seen = collected.withLock { $0 }
        guard done(seen) else { throw ConformanceFailure("the store did not announce what it committed; saw \(seen)") }
    }
}
