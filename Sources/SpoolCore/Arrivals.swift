import Synchronization

/// Wakes the tasks waiting for something to arrive in a buffer (a message, a failure): each
/// waits until the next ``signal()``, its deadline, or its cancellation.
///
/// A waiter reads ``count`` before it looks at the buffer and passes it to
/// ``wait(after:until:)``, so an arrival between the look and the wait is not missed:
///
/// ```swift
/// while true {
///     let seen = arrivals.count
///     if let message = buffer.take() { return message }
///     if ContinuousClock.now >= deadline { return nil }
///     await arrivals.wait(after: seen, until: deadline)
/// }
/// ```
public final class Arrivals: Sendable {
    private struct State {
        var count: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waiters woken before they started waiting (by a timer or a cancellation).
        var woken: Set<UInt64> = []
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    /// An object with no waiters.
    public init() {}

    /// How many times ``signal()`` has been called.
    public var count: UInt64 { state.withLock(\.count) }

    /// Wakes every waiter.
    public func signal() {
        let waiters = state.withLock { state in
            state.count += 1
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns at once if ``signal()`` was called since ``count`` was `seen`; otherwise at the
    /// next signal, at `deadline`, or when the task is cancelled.
    public func wait(after seen: UInt64, until deadline: ContinuousClock.Instant) async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let timer = Task {
            do { try await Task.sleep(until: deadline) } catch { return }
            self.wake(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waits = state.withLock { state in
                    guard state.count == seen, state.woken.remove(id) == nil else { return false }
                    state.waiters[id] = continuation
                    return true
                }
                if !waits { continuation.resume() }
            }
        } onCancel: {
            wake(id)
        }
        timer.cancel()
        await timer.value
        state.withLock { _ = $0.woken.remove(id) }
    }

    private func wake(_ id: UInt64) {
        let waiter = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                state.woken.insert(id)
                return nil as CheckedContinuation<Void, Never>?
            }
            return waiter
        }
        waiter?.resume()
    }
}
