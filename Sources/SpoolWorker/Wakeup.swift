import Synchronization

/// A coalescing signal: any number of `signal()` calls wake the next `wait` once.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Wakes the current waiter, or the next one if nobody waits.
    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at the next signal, or after `timeout`. One task waits at a time.
    func wait(timeout: Duration) async {
        let timer = Task {
            do { try await Task.sleep(for: timeout) } catch { return }
            self.signal()
        }
        await wait()
        timer.cancel()
    }

    /// Returns at the next signal. One task waits at a time.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.pending {
                    state.pending = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Signals every `interval` until the returned task is cancelled: a waiter that uses it
    /// instead of ``wait(timeout:)`` wakes at least that often without a timer per wait.
    func tick(every interval: Duration) -> Task<Void, Never> {
        Task { [self] in
            while (try? await Task.sleep(for: interval)) != nil { signal() }
        }
    }
}
