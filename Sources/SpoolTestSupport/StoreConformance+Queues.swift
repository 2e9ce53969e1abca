import Foundation
import SpoolCore

extension StoreConformance {
    /// Queues: job counts per state, pausing and resuming.
    static let queueCases: [StoreConformanceCase] = [
        StoreConformanceCase("queues report their jobs per state") { store in
            _ = try await put(store) { $0.queue = "a" }
            _ = try await put(store) { $0.queue = "a"; $0.runAt = t0.addingTimeInterval(60) }
            _ = try await put(store) { $0.queue = "b" }
            _ = try await claim(store, limit: 1, queues: ["b"])
            let queues = try await store.queues()
            try expectEqual(queues.map(\.name), ["a", "b"], "names")
            try expectEqual(queues[0].counts[.available], 1, "a available")
            try expectEqual(queues[0].counts[.scheduled], 1, "a scheduled")
            try expectEqual(queues[1].counts[.running], 1, "b running")
        },
        StoreConformanceCase("a paused queue accepts jobs and hands out none until resumed") { store in
            try await store.setPaused("default", paused: true)
            let job = try await put(store)
            try expectEqual(try await fetch(store, job.id).state, .available, "accepted")
            try expectEqual(try await claim(store).count, 0, "paused")
            try expect(try await store.queues().first { $0.name == "default" }?.paused == true, "queue reported paused")
            try await store.setPaused("default", paused: false)
            try expectEqual(try await claim(store).map(\.id), [job.id], "resumed")
            try expect(try await store.queues().first { $0.name == "default" }?.paused == false, "queue reported running")
        },
    ]
}
