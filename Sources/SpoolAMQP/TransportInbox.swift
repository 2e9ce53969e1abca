import AMQPClient
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
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waiters woken before they started waiting (by a timer or a cancellation).
        var woken: Set<UInt64> = []
        var nextWaiter: UInt64 = 0
        var failure: (any Error)?
    }

    let destination: String
    let channel: AMQPChannel
    private let consumer: AMQPConsumer
    private let state = Mutex(State())

    private init(destination: String, channel: AMQPChannel, consumer: AMQPConsumer) {
        self.destination = destination
        self.channel = channel
        self.consumer = consumer
    }

    /// Opens a channel on `connection`, declares `destination` and starts consuming it.
    static func open(_ destination: String, on connection: AMQPConnection, prefetch: UInt16) async throws -> TransportInbox {
        let channel = try await connection.openChannel()
        do {
            try await channel.basicQos(prefetchCount: prefetch)
            try await channel.queueDeclare(destination, durable: true)
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
                let waiters = state.withLock { state in
                    state.ready.append(delivery)
                    defer { state.waiters = [:] }
                    return state.waiters.values
                }
                for waiter in waiters { waiter.resume() }
            }
        } catch {
            failure = error
        }
        let waiters = state.withLock { state in
            state.failure = failure
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Whether the consumer has ended, so this inbox hands out nothing new.
    var hasFailed: Bool { state.withLock { $0.failure != nil } }

    /// Takes up to `limit` buffered deliveries, waiting up to `wait` for the first one. Throws
    /// the consumer's error once it has ended and nothing is buffered.
    func take(limit: Int, wait: Duration) async throws -> [AMQPDelivery] {
        let deadline = ContinuousClock.now + wait
        while true {
            let (batch, failure) = state.withLock { state in
                let count = min(limit, state.ready.count)
                defer { state.ready.removeFirst(count) }
                return (Array(state.ready.prefix(count)), state.failure)
            }
            if !batch.isEmpty { return batch }
            if let failure { throw failure }
            if ContinuousClock.now >= deadline || Task.isCancelled { return [] }
            await waitForDelivery(until: deadline)
        }
    }

    /// Returns when a delivery arrives, the consumer ends, `deadline` passes or the task is cancelled.
    private func waitForDelivery(until deadline: ContinuousClock.Instant) async {
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
                    guard state.ready.isEmpty, state.failure == nil, state.woken.remove(id) == nil else { return false }
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

    /// Closes the channel; the broker requeues what it delivered here and nobody settled.
    func close() async {
        try? await channel.close()
    }
}
