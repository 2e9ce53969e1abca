import Synchronization

/// The requests whose answer made the broker close the connection (a frame or field it refused),
/// by `UUID`, newest kept: when the broker delivers such a request again, the daemon
/// dead-letters it instead of answering it the same way and being cut off again.
final class RefusedAnswers: Sendable {
    /// How many requests are remembered; the oldest are forgotten first.
    let capacity: Int
    private let state = Mutex<(order: [String], reasons: [String: String])>(([], [:]))

    init(capacity: Int = 1_024) {
        self.capacity = capacity
    }

    /// Remembers that answering `uuid` made the broker close the connection, and why.
    func remember(_ uuid: String, reason: String) {
        state.withLock { state in
            if state.reasons.updateValue(reason, forKey: uuid) == nil { state.order.append(uuid) }
            while state.order.count > capacity { state.reasons[state.order.removeFirst()] = nil }
        }
    }

    /// Why answering `uuid` was refused before, or `nil`.
    func reason(for uuid: String) -> String? {
        state.withLock { $0.reasons[uuid] }
    }
}
