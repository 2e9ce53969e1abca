import Synchronization

/// One client's bounded buffer of encoded events. The publisher never waits: when the buffer
/// is full the client has fallen too far behind, the subscription ends and `onOverflow` runs
/// (the server closes the connection), so a slow client never grows memory without bound.
final class EventSubscriber: Sendable {
    private struct State {
        var buffer: [String] = []
        var waiter: CheckedContinuation<String?, Never>?
        var ended = false
    }

    let filter: EventFilter
    let capacity: Int
    private let onOverflow: @Sendable () -> Void
    private let state = Mutex(State())

    init(filter: EventFilter, capacity: Int, onOverflow: @escaping @Sendable () -> Void) {
        self.filter = filter
        self.capacity = capacity
        self.onOverflow = onOverflow
    }

    /// Hands `text` to the client, or ends the subscription when its buffer is full; returns
    /// `false` when it overflowed.
    @discardableResult
    func offer(_ text: String) -> Bool {
        enum Action { case deliver(CheckedContinuation<String?, Never>), queued, overflow, ignored }
        let action = state.withLock { state -> Action in
            guard !state.ended else { return .ignored }
            if let waiter = state.waiter {
                state.waiter = nil
                return .deliver(waiter)
            }
            guard state.buffer.count < capacity else {
                state.ended = true
                state.buffer = []
                return .overflow
            }
            state.buffer.append(text)
            return .queued
        }
        switch action {
        case .deliver(let waiter): waiter.resume(returning: text)
        case .overflow: onOverflow(); return false
        case .queued, .ignored: break
        }
        return true
    }

    /// The next event, or `nil` once the subscription ended (closed, overflowed, or the
    /// calling task was cancelled).
    func next() async -> String? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
                let ready = state.withLock { state -> String?? in
                    if !state.buffer.isEmpty { return .some(state.buffer.removeFirst()) }
                    if state.ended || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            close()
        }
    }

    /// Ends the subscription; a waiting ``next()`` returns `nil`.
    func close() {
        let waiter = state.withLock { state in
            state.ended = true
            state.buffer = []
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}
