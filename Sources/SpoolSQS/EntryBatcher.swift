import SQSClient
import Synchronization

/// Gathers the entries of one kind of SQS batch call (sends, deletes, visibility changes) per
/// queue from concurrent callers: a batch goes out when it holds ten entries or when `linger`
/// has passed since its first, so callers that each settle one message share requests.
///
/// Each entry's outcome reaches the caller that submitted it: an entry SQS fails for its own
/// reasons (or leaves out of its answer) is sent again, up to three tries in all; one it refuses
/// as malformed, or still failing after the last try, throws ``SQSError`` naming the entry.
/// A request that fails as a whole (after the client's own retries) throws to every caller in it.
final class EntryBatcher<Entry: Sendable>: Sendable {
    /// Sends one batch of up to ten entries to a queue, named by their index.
    typealias Send = @Sendable (_ queueURL: String, _ entries: [Entry]) async throws -> SQSBatchResult

    /// One caller's submission: how many of its entries are unsettled, and the first failure.
    private final class Waiter: @unchecked Sendable {
        // Changed only under the batcher's lock.
        var remaining: Int
        var failure: (any Error)?
        let continuation: CheckedContinuation<Void, any Error>

        init(remaining: Int, continuation: CheckedContinuation<Void, any Error>) {
            self.remaining = remaining
            self.continuation = continuation
        }
    }

    private struct Item: Sendable {
        var entry: Entry
        var label: String
        var waiter: Waiter
    }

    private struct Open {
        var items: [Item] = []
        var generation: UInt64
    }

    private struct State {
        var open: [String: Open] = [:]
        var generation: UInt64 = 0
    }

    /// The largest batch SQS takes.
    static var capacity: Int { 10 }
    private static var tries: Int { 3 }

    private let linger: Duration
    private let send: Send
    private let settledBy: Set<String>
    private let state = Mutex(State())

    /// A batcher that sends with `send`, holding a batch that is not full for up to `linger`. An
    /// entry that SQS fails with one of the codes `settledBy` counts as done, not as a failure.
    init(linger: Duration, settledBy: Set<String> = [], send: @escaping Send) {
        self.linger = linger
        self.settledBy = settledBy
        self.send = send
    }

    /// Adds `entries` (each with a label for errors, such as "message m-1 for jobs") to
    /// `queueURL`'s batches and returns once every one of them has been settled; throws the first
    /// entry's failure.
    func submit(_ entries: [(entry: Entry, label: String)], to queueURL: String) async throws {
        guard !entries.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let waiter = Waiter(remaining: entries.count, continuation: continuation)
            let (full, lingering) = state.withLock { state in
                var full: [[Item]] = []
                var started: UInt64?
                for (entry, label) in entries {
                    var open = state.open[queueURL] ?? {
                        state.generation += 1
                        started = state.generation
                        return Open(generation: state.generation)
                    }()
                    open.items.append(Item(entry: entry, label: label, waiter: waiter))
                    if open.items.count == Self.capacity {
                        full.append(open.items)
                        state.open[queueURL] = nil
                    } else {
                        state.open[queueURL] = open
                    }
                }
                return (full, started.flatMap { state.open[queueURL]?.generation == $0 ? $0 : nil })
            }
            for items in full { Task { await self.flush(items, to: queueURL) } }
            if let lingering {
                Task {
                    try? await Task.sleep(for: self.linger)
                    let items = self.state.withLock { state -> [Item]? in
                        guard state.open[queueURL]?.generation == lingering else { return nil }
                        return state.open.removeValue(forKey: queueURL)?.items
                    }
                    if let items { await self.flush(items, to: queueURL) }
                }
            }
        }
    }

    private func flush(_ items: [Item], to queueURL: String) async {
        var pending = items
        for attempt in 1...Self.tries {
            let result: SQSBatchResult
            do {
                result = try await send(queueURL, pending.map(\.entry))
            } catch {
                settle(pending, error)
                return
            }
            let failures = Dictionary(result.failed.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            var again: [Item] = []
            for (index, item) in pending.enumerated() {
                let id = "\(index)"
                if result.succeeded[id] != nil || failures[id].map({ settledBy.contains($0.code) }) == true {
                    settle([item], nil)
                } else if let failure = failures[id], failure.senderFault || attempt == Self.tries {
                    settle([item], SQSError(SQSError.Code(failure.code), "SQS refused \(item.label): \(failure.message)"))
                } else if attempt == Self.tries {
                    settle([item], SQSError(.invalidResponse, "SQS left \(item.label) out of its answer \(Self.tries) times"))
                } else {
                    again.append(item)
                }
            }
            pending = again
            if pending.isEmpty { return }
            try? await Task.sleep(for: .milliseconds(50 * attempt) * Double.random(in: 0.5...1))
        }
    }

    private func settle(_ items: [Item], _ failure: (any Error)?) {
        let done = state.withLock { _ in
            var done: [Waiter] = []
            for item in items {
                let waiter = item.waiter
                if waiter.failure == nil { waiter.failure = failure }
                waiter.remaining -= 1
                if waiter.remaining == 0 { done.append(waiter) }
            }
            return done
        }
        for waiter in done {
            if let failure = waiter.failure { waiter.continuation.resume(throwing: failure) } else { waiter.continuation.resume() }
        }
    }
}
