import Foundation
import SpoolCore
import Synchronization

/// The next index handed to one of several producers.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    /// The next index, each handed out once.
    func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
}

/// Records when each job started and how many completed, noticing jobs started twice, and
/// wakes a waiter once `target` jobs completed.
final class StartLog: Sendable {
    private struct State {
        var latencies: [JobID: Double] = [:]
        var duplicates = 0
        var completed = 0
        var expired = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let target: Int

    init(target: Int) { self.target = target }

    /// Notes that job `id` started `latency` seconds after it was enqueued.
    func record(_ id: JobID, latency: Double) {
        state.withLock { state in
            if state.latencies.updateValue(latency, forKey: id) != nil { state.duplicates += 1 }
        }
    }

    /// Notes one completion; wakes the waiter at the target.
    func recordCompletion() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.completed += 1
            guard state.completed >= target else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Waits until `target` jobs completed or `deadline` passes; `false` at the deadline.
    func waitForCompletions(deadline: ContinuousClock.Instant) async -> Bool {
        let timer = Task {
            try? await Task.sleep(until: deadline)
            let waiter = state.withLock { state in
                state.expired = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
        defer { timer.cancel() }
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                let done = state.completed >= target || state.expired
                if !done { state.waiter = continuation }
                return done
            }
            if done { continuation.resume() }
        }
        return state.withLock { $0.completed >= target }
    }

    var latencies: [Double] { state.withLock { Array($0.latencies.values) } }
    var started: Int { state.withLock { $0.latencies.count } }
    var duplicates: Int { state.withLock { $0.duplicates } }
}
