import Synchronization

/// Tells the table-queue endpoints of one store instance which destination a message was just
/// published to, so a waiting receive looks at once instead of at its next poll. Only this
/// process's publishes are told; other processes' are found by polling.
public final class PublishSignals: Sendable {
    private let waiters = Mutex<(next: Int, streams: [Int: AsyncStream<String>.Continuation])>((0, [:]))

    /// Signals with no subscribers.
    public init() {}

    /// A stream of the destinations published to after this call; cancel the iterating task to end it.
    public func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(8))
        let key = waiters.withLock { state in
            state.next += 1
            state.streams[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            self?.waiters.withLock { _ = $0.streams.removeValue(forKey: key) }
        }
        return stream
    }

    /// Tells every subscriber that `destination` has new messages.
    public func published(to destination: String) {
        for continuation in waiters.withLock({ Array($0.streams.values) }) { continuation.yield(destination) }
    }

    /// Repeats `take` until it hands out something or `wait` has passed, looking again at each
    /// publish to `destination` in this process and at least every `poll` (for other processes').
    public func poll<T: Sendable>(_ destination: String, wait: Duration, poll: Duration = .milliseconds(20),
                                  take: () async throws -> [T]) async throws -> [T] {
        let deadline = ContinuousClock.now + wait
        while true {
            // A fresh subscription each round: cancelling a stream's waiting reader finishes it.
            let signals = subscribe()
            let taken = try await take()
            if !taken.isEmpty || ContinuousClock.now >= deadline { return taken }
            await Self.nextPublish(to: destination, in: signals, within: min(poll, deadline - ContinuousClock.now))
        }
    }

    private static func nextPublish(to destination: String, in signals: AsyncStream<String>, within interval: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await published in signals where published == destination { return }
            }
            group.addTask { try? await Task.sleep(for: max(interval, .milliseconds(1))) }
            await group.next()
            group.cancelAll()
        }
    }
}

/// A table queue's receipt: the message's sequence number and its delivery count, so a receipt
/// from before a redelivery no longer settles the message.
public struct TableQueueReceipt: Sendable, Hashable {
    /// The message's row.
    public var seq: Int64
    /// How many times the message had been delivered when this receipt was handed out.
    public var deliveries: Int

    /// A receipt.
    public init(seq: Int64, deliveries: Int) {
        self.seq = seq
        self.deliveries = deliveries
    }

    /// The receipt of `delivery`; refused by name when it is not a table queue's.
    public init(_ delivery: TransportDelivery) throws {
        let parts = delivery.receipt.split(separator: ":")
        guard parts.count == 2, let seq = Int64(parts[0]), let deliveries = Int(parts[1]) else {
            throw SpoolError(.invalidArgument, "'\(delivery.receipt.prefix(100))' is not a table-queue receipt")
        }
        self.init(seq: seq, deliveries: deliveries)
    }

    /// The receipt as a delivery carries it.
    public var text: String { "\(seq):\(deliveries)" }

    /// The error for a delivery no longer held: settled, redelivered or released.
    public static func notHeld(_ delivery: TransportDelivery) -> SpoolError {
        SpoolError(.invalidState, "delivery \(delivery.receipt) of message \(delivery.message.id) is no longer held")
    }
}
