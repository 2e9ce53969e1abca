import Foundation
import Synchronization

/// In-memory queues shared by any number of ``InMemoryTransport`` endpoints, for unit tests.
public final class InMemoryBroker: Sendable {
    struct Entry {
        var sequence: Int
        var message: TransportMessage
        var availableAt: Date
        var deliveries = 0
        var leasedUntil: Date?
        var holder: UUID?
    }

    struct State {
        var queues: [String: [Entry]] = [:]
        var nextSequence = 0
    }

    let state = Mutex(State())

    /// Creates an empty broker.
    public init() {}

    /// A new endpoint on this broker.
    public func endpoint() -> InMemoryTransport { InMemoryTransport(broker: self) }
}

/// One endpoint of an ``InMemoryBroker``: a ``Transport`` whose close returns its unsettled
/// deliveries to their queues.
public final class InMemoryTransport: Transport {
    private let broker: InMemoryBroker
    private let identity = UUID()

    init(broker: InMemoryBroker) { self.broker = broker }

    public func publish(_ messages: [TransportMessage], to destination: String) async throws {
        let now = Date()
        broker.state.withLock { state in
            for message in messages {
                state.queues[destination, default: []].append(InMemoryBroker.Entry(sequence: state.nextSequence, message: message, availableAt: now))
                state.nextSequence += 1
            }
        }
    }

    public func receive(from destination: String, limit: Int, wait: Duration, visibility: Duration) async throws -> [TransportDelivery] {
        let deadline = Date().addingTimeInterval(wait.seconds)
        while true {
            let now = Date()
            let deliveries = broker.state.withLock { state -> [TransportDelivery] in
                var taken: [TransportDelivery] = []
                guard var entries = state.queues[destination] else { return [] }
                for index in entries.indices where taken.count < limit {
                    let entry = entries[index]
                    guard entry.availableAt <= now, entry.leasedUntil.map({ $0 <= now }) ?? true else { continue }
                    entries[index].deliveries += 1
                    entries[index].leasedUntil = now.addingTimeInterval(visibility.seconds)
                    entries[index].holder = identity
                    taken.append(TransportDelivery(message: entry.message, destination: destination, deliveryCount: entries[index].deliveries,
                                                   receipt: "\(entry.sequence):\(entries[index].deliveries)"))
                }
                state.queues[destination] = entries
                return taken
            }
            if !deliveries.isEmpty || Date() >= deadline { return deliveries }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    public func acknowledge(_ delivery: TransportDelivery) async throws {
        try settle(delivery) { _ in nil }
    }

    public func retry(_ delivery: TransportDelivery, after delay: Duration) async throws {
        let until = Date().addingTimeInterval(delay.seconds)
        try settle(delivery) { entry in
            var entry = entry
            entry.leasedUntil = nil
            entry.holder = nil
            entry.availableAt = until
            return entry
        }
    }

    public func deadLetter(_ delivery: TransportDelivery, reason: String) async throws {
        var message = delivery.message
        message.headers[deadLetterReasonHeader] = reason
        try settle(delivery) { _ in nil }
        try await publish([message], to: deadLetterDestination(for: delivery.destination))
    }

    public func backlog(of destination: String) async throws -> TransportBacklog {
        let now = Date()
        return broker.state.withLock { state in
            let entries = state.queues[destination] ?? []
            let held = entries.filter { $0.leasedUntil.map { $0 > now } ?? false }.count
            let waiting = entries.filter { $0.availableAt <= now && !($0.leasedUntil.map { $0 > now } ?? false) }
            return TransportBacklog(waiting: waiting.count, inFlight: held, oldestWaiting: waiting.map(\.availableAt).min())
        }
    }

    public func close() async throws {
        broker.state.withLock { state in
            for (destination, entries) in state.queues {
                state.queues[destination] = entries.map { entry in
                    guard entry.holder == identity else { return entry }
                    var entry = entry
                    entry.leasedUntil = nil
                    entry.holder = nil
                    return entry
                }
            }
        }
    }

    /// Replaces the delivered entry by `change(entry)` (removing it on `nil`) if the receipt
    /// still matches its current delivery.
    private func settle(_ delivery: TransportDelivery, _ change: (InMemoryBroker.Entry) -> InMemoryBroker.Entry?) throws {
        try broker.state.withLock { state in
            guard var entries = state.queues[delivery.destination],
                  let index = entries.firstIndex(where: { "\($0.sequence):\($0.deliveries)" == delivery.receipt && $0.leasedUntil != nil })
            else {
                throw SpoolError(.invalidState, "delivery \(delivery.receipt) of message \(delivery.message.id) is no longer held")
            }
            if let changed = change(entries[index]) { entries[index] = changed } else { entries.remove(at: index) }
            state.queues[delivery.destination] = entries
        }
    }
}
