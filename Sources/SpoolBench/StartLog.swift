import Foundation
import SpoolCore
import Synchronization

/// A count shared between tasks: the next index handed to one of several producers, or the
/// events seen so far.
public final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    /// A count at zero.
    public init() {}

    /// The next index, each handed out once (counting one more).
    @discardableResult
    public func take() -> Int { value.add(1, ordering: .relaxed).oldValue }

    /// How many were taken so far.
    public var count: Int { value.load(ordering: .relaxed) }
}

/// Records when each job started and how many completed, noticing jobs started twice, and
/// wakes a waiter once `target` jobs completed.
final class StartLog: Sendable {
    private struct State {
        var starts: [JobID: Date] = [:]
        var duplicates = 0
        var completed = 0
        var expired = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let target: Int

    init(target: Int) { self.target = target }

    /// Notes that job `id` started at `date`.
    func record(_ id: JobID, at date: Date) {
        state.withLock { state in
            if state.starts.updateValue(date, forKey: id) != nil { state.duplicates += 1 }
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

    /// Per started job, the seconds from its enqueue call (as `enqueued` recorded it) to its start.
    func latencies(since enqueued: EnqueueTimes) -> [Double] {
        state.withLock { state in
            state.starts.compactMap { id, start in enqueued.time(of: id).map { start.timeIntervalSince($0) } }
        }
    }

    var started: Int { state.withLock { $0.starts.count } }
    var duplicates: Int { state.withLock { $0.duplicates } }
}
