import Foundation
import SpoolCore
import Synchronization

extension StoreConformance {
    /// Events: what a store announces of what it commits.
    static let eventCases: [StoreConformanceCase] = [
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

    /// Reads `events` into `seen` until `done` holds, failing after `within`.
    static func collect(_ events: AsyncStream<StoreEvent>, into seen: inout [StoreEvent], within: Duration = .seconds(2),
                        until done: @escaping @Sendable ([StoreEvent]) -> Bool) async throws {
        let collected = Mutex<[StoreEvent]>([])
        let reader = Task {
            for await event in events {
                if collected.withLock({ $0.append(event); return done($0) }) { return }
            }
        }
        let deadline = ContinuousClock.now + within
        while !done(collected.withLock { $0 }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        reader.cancel()
        seen = collected.withLock { $0 }
        guard done(seen) else { throw ConformanceFailure("the store did not announce what it committed; saw \(seen)") }
    }
}
