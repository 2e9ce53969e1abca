import Foundation
import SpoolCore

extension StoreConformance {
    /// Checks that `follower`, an instance sharing `recorder`'s store (standing for another
    /// process), announces the ends `recorder` records once it follows ends everywhere: a
    /// completion, a discard and the cancel of a waiting job, each with its state, and never a
    /// retry (not an end). `ready` returns once the follower's store is ready to relay (for
    /// PostgreSQL: its listening connection is up).
    public static func checkEndsAreFollowed(recorder: any JobStore, follower: any JobStore,
                                            ready: () async throws -> Void = {}) async throws {
        let events = follower.events.subscribe()
        follower.events.followEndsEverywhere()
        try await ready()
        let now = Date()
        let completed = try await put(recorder, at: now) { $0.queue = "followed" }
        let discarded = try await put(recorder, at: now) { $0.queue = "followed"; $0.maxAttempts = 1 }
        let retried = try await put(recorder, at: now) { $0.queue = "followed"; $0.maxAttempts = 3 }
        let claimed = try await claim(recorder, limit: 3, at: now, queues: ["followed"])
        guard claimed.count == 3 else { throw ConformanceFailure("claimed \(claimed.count) jobs of 3") }
        let error = AttemptError(attempt: 1, name: "Boom", type: "error", message: "failed on purpose", at: now)
        let applied = try await recorder.finish([
            Finish(id: completed.id, dispatcher: dispatcherA, outcome: .completed(result: nil, followUps: [])),
            Finish(id: discarded.id, dispatcher: dispatcherA, outcome: .failed(error, retryAt: nil)),
            Finish(id: retried.id, dispatcher: dispatcherA, outcome: .failed(error, retryAt: now.addingTimeInterval(60))),
        ], now: now)
        guard applied == [true, true, true] else { throw ConformanceFailure("finishes applied: \(applied)") }
        let waiting = try await put(recorder, at: now) { $0.queue = "followed" }
        _ = try await recorder.cancel(waiting.id, now: now)
        let expected: [JobID: JobState] = [completed.id: .completed, discarded.id: .discarded, waiting.id: .cancelled]
        var seen: [StoreEvent] = []
        let announced: @Sendable ([StoreEvent]) -> [JobID: JobState] = { seen in
            var ended: [JobID: JobState] = [:]
            for case .jobsFinished(let states) in seen { ended.merge(states) { $1 } }
            return ended
        }
        try await collect(events, into: &seen, within: .seconds(10)) { seen in
            let ended = announced(seen)
            return expected.allSatisfy { ended[$0.key] == $0.value }
        }
        if announced(seen)[retried.id] != nil { throw ConformanceFailure("a retry was announced as an end: \(seen)") }
    }
}
