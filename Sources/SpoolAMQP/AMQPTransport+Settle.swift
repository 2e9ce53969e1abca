import AMQPClient
import SpoolCore

extension AMQPTransport {
    public func acknowledge(_ delivery: TransportDelivery) async throws {
        let held = try release(delivery)
        try await acknowledge(held)
    }

    /// Settles `deliveries` with as few frames as the broker allows: on each channel, one
    /// acknowledgement with `multiple` for the highest of them when this endpoint holds no
    /// earlier delivery of that channel besides them (deliveries are handed out in the order the
    /// broker sent them), else one each.
    public func acknowledge(_ deliveries: [TransportDelivery]) async throws {
        var stale: TransportDelivery?
        let (runs, singles) = try state.withLock { state -> ([Held], [Held]) in
            guard !state.closed else { throw Self.closedError }
            var byInbox: [ObjectIdentifier: [Held]] = [:]
            for delivery in deliveries {
                guard let held = state.held.removeValue(forKey: delivery.receipt) else {
                    stale = stale ?? delivery
                    continue
                }
                byInbox[ObjectIdentifier(held.inbox), default: []].append(held)
            }
            var runs: [Held] = [], singles: [Held] = []
            for (inbox, group) in byInbox {
                let highest = group.max { $0.amqp.deliveryTag < $1.amqp.deliveryTag }!
                let earlierLeft = state.held.values.contains {
                    ObjectIdentifier($0.inbox) == inbox && $0.amqp.deliveryTag < highest.amqp.deliveryTag
                }
                if group.count > 1, !earlierLeft { runs.append(highest) } else { singles += group }
            }
            return (runs, singles)
        }
        for held in runs {
            guard try await held.inbox.channel.ack(held.amqp, multiple: true) else { throw Self.brokenSince(held) }
        }
        for held in singles { try await acknowledge(held) }
        if let stale {
            throw SpoolError(.invalidState, "delivery \(stale.receipt) of message \(stale.message.id) is no longer held")
        }
    }

    public func retry(_ delivery: TransportDelivery, after delay: Duration) async throws {
        let retryDelay = try RetryDelay(delay)
        let held = try release(delivery)
        try await requeue(held, after: retryDelay)
    }

    public func deadLetter(_ delivery: TransportDelivery, reason: String) async throws {
        let held = try release(delivery)
        var message = held.delivery.message
        message.headers[deadLetterReasonHeader] = reason
        let target = deadLetterDestination(for: held.delivery.destination)
        try await republish(held) {
            try await declare(target)
            return AMQPTransportEnvelope.outgoing(message, to: target)
        }
        try await acknowledge(held)
    }

    /// Publishes the held message again, now or through a delay queue, counting its deliveries
    /// so far, then acknowledges the delivery.
    private func requeue(_ held: Held, after delay: RetryDelay) async throws {
        let destination = held.delivery.destination
        try await republish(held) {
            var target = destination
            if delay.milliseconds > 0 {
                target = delay.queue(for: destination)
                try await declare(target, arguments: delay.arguments(for: destination), again: true)
            }
            return AMQPTransportEnvelope.outgoing(held.delivery.message, to: target,
                                                  previousDeliveries: held.delivery.deliveryCount)
        }
        try await acknowledge(held)
    }

    /// Publishes what `prepare` returns; when that fails the delivery is held again, so the
    /// caller may settle it another way.
    private func republish(_ held: Held, _ prepare: () async throws -> AMQPOutgoingMessage) async throws {
        do {
            let message = try await prepare()
            try await withPublisher { try await $0.publish(contentsOf: [message]) }
        } catch {
            state.withLock { state in
                if !state.closed { state.held[held.delivery.receipt] = held }
            }
            throw error
        }
    }

    private func acknowledge(_ held: Held) async throws {
        guard try await held.inbox.channel.ack(held.amqp) else { throw Self.brokenSince(held) }
    }

    private static func brokenSince(_ held: Held) -> SpoolError {
        SpoolError(.invalidState, """
            delivery \(held.delivery.receipt) of message \(held.delivery.message.id) came from a connection that \
            broke since; the broker delivers it again
            """)
    }

    /// Takes a handed-out delivery out of the endpoint's hands; a receipt this endpoint does not
    /// hold (settled, returned after its visibility, from another endpoint) throws.
    private func release(_ delivery: TransportDelivery) throws -> Held {
        try state.withLock { state in
            guard !state.closed else { throw Self.closedError }
            guard let held = state.held.removeValue(forKey: delivery.receipt) else {
                throw SpoolError(.invalidState, "delivery \(delivery.receipt) of message \(delivery.message.id) is no longer held")
            }
            return held
        }
    }

    /// Returns the deliveries behind `receipts` that are still held after `visibility`, as
    /// `retry(after: .zero)` would.
    func returnUnsettled(_ receipts: [String], after visibility: Duration) {
        state.withLock { locked in
            let id = locked.nextExpiry
            locked.nextExpiry += 1
            locked.expiries[id] = Task {
                defer { self.state.withLock { _ = $0.expiries.removeValue(forKey: id) } }
                do { try await Task.sleep(for: visibility) } catch { return }
                let expired = self.state.withLock { state in receipts.compactMap { state.held.removeValue(forKey: $0) } }
                for held in expired {
                    do {
                        try await requeue(held, after: RetryDelay(milliseconds: 0))
                    } catch {
                        logger.warning("could not return a delivery past its visibility", metadata: [
                            "destination": "\(held.delivery.destination)", "message": "\(held.delivery.message.id)",
                            "error": "\(error)",
                        ])
                    }
                }
            }
        }
    }
}
