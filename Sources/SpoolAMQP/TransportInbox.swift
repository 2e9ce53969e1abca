import AMQPClient
import SpoolCore
import Synchronization

/// The deliveries one ``AMQPTransport`` endpoint has from one destination: a consumer on its own
/// channel (with the endpoint's prefetch and manual acknowledgements) feeding a buffer that
/// receives take from.
///
/// Closing the inbox closes its channel, so the broker puts back every message it delivered here
/// and nobody acknowledged.
final class TransportInbox: Sendable {
    private struct State {
        var ready: [AMQPDelivery] = []
        var failure: (any Error)?
    }

    let destination: String
    let channel: AMQPChannel
    private let consumer: AMQPConsumer
    private let state = Mutex(State())
    private let arrivals = Arrivals()

    private init(destination: String, channel: AMQPChannel, consumer: AMQPConsumer) {
        self.destination = destination
        self.channel = channel
        self.consumer = consumer
    }

    /// Opens a channel on `connection`, declares `destination` (with `arguments`) and starts consuming it.
    static func open(_ destination: String, on connection: AMQPConnection, prefetch: UInt16, arguments: AMQPTable) async throws -> TransportInbox {
        let channel = try await connection.openChannel()
        do {
            try await channel.basicQos(prefetchCount: prefetch)
            try await channel.queueDeclare(destination, durable: true, arguments: arguments)
            let consumer = try await channel.consume(queue: destination)
            let inbox = TransportInbox(destination: destination, channel: channel, consumer: consumer)
            Task { await inbox.pump() }
            return inbox
        } catch {
            try? await channel.close()
            throw error
        }
    }

    private func pump() async {
        var failure: any Error = AMQPError(.channelClosed, "the consumer of \(destination) ended")
        do {
            for try await delivery in consumer {
                state.withLock { $0.ready.append(delivery) }
                arrivals.signal()
            }
        } catch {
            failure = error
        }
        state.withLock { $0.failure = failure }
        arrivals.signal()
    }

    /// Whether the consumer has ended, so this inbox hands out nothing new.
    var hasFailed: Bool { state.withLock { $0.failure != nil } }

    /// Takes up to `limit` buffered deliveries, waiting up to `wait` for the first one. Throws
    /// the consumer's error once it has ended and nothing is buffered.
    func take(limit: Int, wait: Duration) async throws -> [AMQPDelivery] {
        let deadline = ContinuousClock.now + wait
        while true {
            let seen = arrivals.count
            let (batch, failure) = state.withLock { state in
                let count = min(limit, state.ready.count)
                defer { state.ready.removeFirst(count) }
                return (Array(state.ready.prefix(count)), state.failure)
            }
            if !batch.isEmpty { return batch }
            if let failure { throw failure }
            if ContinuousClock.now >= deadline || Task.isCancelled { return [] }
            await arrivals.wait(after: seen, until: deadline)
        }
    }

    /// Closes the channel; the broker requeues what it delivered here and nobody settled.
    func close() async {
        try? await channel.close()
    }
}
