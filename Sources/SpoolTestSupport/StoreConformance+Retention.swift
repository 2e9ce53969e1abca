import Foundation
import SpoolCore

extension StoreConformance {
    /// Retention: prunes delete the oldest finished jobs of one state, a batch at a time, and
    /// one caller takes each turn of a periodic task.
    static let retentionCases: [StoreConformanceCase] = [
        StoreConformanceCase("a prune deletes one finished state's jobs that ended before a time, oldest first, a batch at a time") { store in
            var completed: [Job] = []
            for _ in 0..<4 { completed.append(try await put(store)) }
            let discarded = try await put(store) { $0.maxAttempts = 1 }
            let waiting = try await put(store)
            _ = try await claim(store, limit: 5)
            // Completed at t0+40, +30, +20, +10: finish order, not enqueue order, decides what goes first.
            for (index, job) in completed.enumerated() {
                _ = try await complete(store, job, at: t0.addingTimeInterval(Double(40 - 10 * index)))
            }
            let error = AttemptError(attempt: 1, name: "Boom", type: "error", message: "out of attempts", at: t0)
            _ = try await store.finish([Finish(id: discarded.id, dispatcher: dispatcherA, outcome: .failed(error, retryAt: nil))],
                                       now: t0.addingTimeInterval(1))
            let before = t0.addingTimeInterval(35)

            try expectEqual(try await store.prune(PruneRequest(state: .completed, finishedBefore: before, limit: 10, dryRun: true)).deleted, 3,
                            "a dry run counts the three completed before the time")
            try expectEqual(try await store.job(completed[3].id)?.state, .completed, "a dry run deletes nothing")
            try expectEqual(try await store.prune(PruneRequest(state: .completed, finishedBefore: before, limit: 2)).deleted, 2, "one batch of two")
            let firstTwo = [try await store.job(completed[3].id), try await store.job(completed[2].id)]
            try expect(firstTwo == [nil, nil], "the two that finished first went first")
            try expect(try await store.job(completed[1].id) != nil, "the third waits for the next batch")
            try expectEqual(try await store.prune(PruneRequest(state: .completed, finishedBefore: before, limit: 2)).deleted, 1, "the rest")
            try expectEqual(try await store.prune(PruneRequest(state: .completed, finishedBefore: before, limit: 2)).deleted, 0, "nothing left to prune")
            try expectEqual(try await store.job(completed[0].id)?.state, .completed, "a job that finished after the time stays")
            try expectEqual(try await store.job(discarded.id)?.state, .discarded, "other states stay")
            try expectEqual(try await store.prune(PruneRequest(state: .discarded, finishedBefore: before)).deleted, 1, "the discarded job")
            try expect(try await store.job(discarded.id) == nil, "the discarded job is gone")
            try expectEqual(try await store.job(waiting.id)?.state, .available, "an unfinished job is never pruned")
            let counts = try await store.queues().first { $0.name == "default" }?.counts ?? [:]
            try expectEqual(counts[.completed] ?? 0, 1, "the queue counts only what is left")
            try await expectSpoolError(.invalidArgument) {
                try await store.prune(PruneRequest(state: .running, finishedBefore: before))
            }
        },
        StoreConformanceCase("one caller takes each turn of a periodic task") { store in
            let tick = t0.addingTimeInterval(60)
            try expect(try await store.takeTurn("spool=test", tick: tick), "the first caller takes the turn")
            try expect(try await !store.takeTurn("spool=test", tick: tick), "the same turn is not taken twice")
            try expect(try await !store.takeTurn("spool=test", tick: t0), "nor an earlier one")
            try expect(try await store.takeTurn("spool=test", tick: tick.addingTimeInterval(60)), "the next turn is free")
            try expect(try await store.takeTurn("spool=other", tick: tick), "tasks are independent")
        },
    ]
}
