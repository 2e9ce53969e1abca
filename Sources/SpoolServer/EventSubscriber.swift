import Foundation
import SpoolCore
import Synchronization

/// One client's bounded buffer of encoded events. The publisher never waits.
///
/// When the buffer is full, further events are dropped and counted, and the client receives
/// `{"type": "lagged", "at", "dropped": n}` in their place, so it knows to refresh from the API
/// and then goes on with live events. A client that takes nothing for `lagLimit` while events
/// keep being dropped is stuck: its subscription ends and `onOverflow` runs (the server closes
/// the connection). Either way memory stays bounded by `capacity`.
final class EventSubscriber: Sendable {
    /// What a subscriber receives.
    enum View: Sendable {
        /// Every event its filter admits, as ``ServerEvent`` encodes it: an admin's view.
        case full
        /// Only the end of its job, as ``ServerEvent/endText(_:)`` writes it: a browser holding
        /// a subscription token for that job.
        case end
    }

    private enum Entry {
        case event(String)
        case lagged(dropped: Int)
    }

    private struct State {
        var buffer: [Entry] = []
        var waiter: CheckedContinuation<String?, Never>?
        var ended = false
        /// When the client last fell behind without taking anything since.
        var laggingSince: ContinuousClock.Instant?
    }

    let filter: EventFilter
    let view: View
    let capacity: Int
    let lagLimit: Duration
    private let onOverflow: @Sendable () -> Void
    private let state = Mutex(State())
    private let received = Atomic<Bool>(false)

    /// Whether anything was offered to it yet.
    var hasReceived: Bool { received.load(ordering: .relaxed) }

    init(filter: EventFilter, view: View = .full, capacity: Int, lagLimit: Duration, onOverflow: @escaping @Sendable () -> Void) {
        self.filter = filter
        self.view = view
        self.capacity = capacity
        self.lagLimit = lagLimit
        self.onOverflow = onOverflow
    }

    /// Hands `text` to the client, or drops it when its buffer is full (ending the
    /// subscription of a stuck client); returns `false` when it cut the client off.
    @discardableResult
    func offer(_ text: String) -> Bool {
        received.store(true, ordering: .relaxed)
        enum Action { case deliver(CheckedContinuation<String?, Never>), queued, overflow, ignored }
        let action = state.withLock { state -> Action in
            guard !state.ended else { return .ignored }
            if let waiter = state.waiter {
                state.waiter = nil
                return .deliver(waiter)
            }
            guard state.buffer.count >= capacity else {
                state.buffer.append(.event(text))
                return .queued
            }
            let now = ContinuousClock.now
            let since = state.laggingSince ?? now
            state.laggingSince = since
            guard now - since < lagLimit else {
                state.ended = true
                state.buffer = []
                return .overflow
            }
            if case .lagged(let dropped) = state.buffer.last {
                state.buffer[state.buffer.count - 1] = .lagged(dropped: dropped + 1)
            } else {
                state.buffer.append(.lagged(dropped: 1))
            }
            return .queued
        }
        switch action {
        case .deliver(let waiter): waiter.resume(returning: text)
        case .overflow: onOverflow(); return false
        case .queued, .ignored: break
        }
        return true
    }

    /// The next message, or `nil` once the subscription ended (closed, cut off, or the
    /// calling task was cancelled).
    func next() async -> String? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
                let ready = state.withLock { state -> String?? in
                    if !state.buffer.isEmpty {
                        state.laggingSince = nil
                        return .some(EventSubscriber.text(of: state.buffer.removeFirst()))
                    }
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

    private static func text(of entry: Entry) -> String {
        switch entry {
        case .event(let text): return text
        case .lagged(let dropped):
            var writer = JSONWriter(capacity: 80)
            writer.object { w in
                w.member("at"); w.string(ISO8601.format(Date()))
                w.member("dropped"); w.int(dropped)
                w.member("type"); w.string("lagged")
            }
            return writer.text
        }
    }
}
