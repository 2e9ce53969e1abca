import Foundation
import Logging
import SpoolCore
import Synchronization

/// Batches the ends of attempts: finishes that arrive while a batch is being written go into
/// the next one. Each caller resumes once its finish is durable.
final class Completer: Sendable {
    private struct State {
        var pending: [(Finish, CheckedContinuation<Bool, Never>)] = []
        var flushing = false
    }

    private let store: any JobStore
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let state = Mutex(State())

    init(store: any JobStore, now: @escaping @Sendable () -> Date, logger: Logger) {
        self.store = store
        self.now = now
        self.logger = logger
    }

    /// Records `finish`; returns whether the store applied it (`false` when the job is no
    /// longer held by this dispatcher, or the store could not be written).
    func finish(_ finish: Finish) async -> Bool {
        await withCheckedContinuation { continuation in
            let start = state.withLock { state in
                state.pending.append((finish, continuation))
                if state.flushing { return false }
                state.flushing = true
                return true
            }
            if start { Task { await self.flush() } }
        }
    }

    private func flush() async {
        while true {
            let batch = state.withLock { state in
                let batch = state.pending
                state.pending = []
                if batch.isEmpty { state.flushing = false }
                return batch
            }
            if batch.isEmpty { return }
            let applied = await write(batch.map(\.0))
            for (entry, didApply) in zip(batch, applied) { entry.1.resume(returning: didApply) }
        }
    }

    private func write(_ finishes: [Finish]) async -> [Bool] {
        for attempt in 1...5 {
            do {
                return try await store.finish(finishes, now: now())
            } catch {
                logger.error("recording \(finishes.count) finished jobs failed (try \(attempt) of 5): \(error)")
                try? await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
        logger.error("gave up recording \(finishes.count) finished jobs; they will be rescued when their leases expire")
        return Array(repeating: false, count: finishes.count)
    }
}
