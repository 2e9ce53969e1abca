import AMQPClient

extension Topology {
    /// One exchange, queue or binding that ``Topology/declare(on:)`` handled, and what it found.
    public struct Declared: Hashable, Sendable, Codable, CustomStringConvertible {
        /// What kind of thing it is.
        public enum Kind: String, Hashable, Sendable, Codable {
            /// An exchange.
            case exchange
            /// A durable queue.
            case queue
            /// A binding of a queue to the exchange.
            case binding
        }

        /// What declaring it did.
        public enum Outcome: String, Hashable, Sendable, Codable {
            /// It did not exist and was created.
            case created
            /// It already existed (a passive declare found it), so nothing changed.
            case existing
            /// A binding between an exchange and a queue that both already existed, bound again.
            /// AMQP 0-9-1 cannot ask whether a binding exists; binding is idempotent, so if it
            /// existed nothing changed.
            case reasserted
        }

        /// Its kind.
        public var kind: Kind
        /// Its name; for a binding, `exchange -> queue (routing key)`.
        public var name: String
        /// What declaring it did.
        public var outcome: Outcome

        /// `created queue spool.rpc`.
        public var description: String { "\(outcome.rawValue) \(kind.rawValue) \(name)" }
    }

    /// Declares the exchange, the durable queues and their bindings on `connection`, and reports
    /// each with whether it was created or already existed.
    ///
    /// Each exchange and queue is first declared passively; only a missing one (`404`) is created,
    /// so a second run creates nothing. An existing exchange is then declared as described, so one
    /// of another type or durability is refused with the broker's reason. Bindings are created
    /// with their queue or exchange, and bound again (harmlessly) otherwise; AMQP cannot tell
    /// whether such a binding was there before.
    public func declare(on connection: AMQPConnection) async throws -> [Declared] {
        try validate()
        var probe = try await ProbeChannel(connection: connection)
        var declared: [Declared] = []
        let exchangeExisted = try await probe.exists { try await $0.exchangeDeclare(exchange.name, passive: true) }
        do {
            try await probe.channel.exchangeDeclare(exchange.name, type: exchange.type, durable: exchange.durable)
        } catch let error as AMQPError where exchangeExisted && error.replyCode == AMQPError.ReplyCode.preconditionFailed {
            throw AMQPRPCError(.invalidConfiguration, """
                exchange '\(exchange.name)' exists with other settings than the topology's (type \(exchange.type),                 durable \(exchange.durable)): \(error.message); delete it or describe it as it is
                """)
        }
        declared.append(Declared(kind: .exchange, name: exchange.name, outcome: exchangeExisted ? .existing : .created))
        for queue in queues {
            let queueExisted = try await probe.exists { try await $0.queueDeclare(queue.name, passive: true) }
            if !queueExisted { try await probe.channel.queueDeclare(queue.name, durable: true) }
            declared.append(Declared(kind: .queue, name: queue.name, outcome: queueExisted ? .existing : .created))
            for key in queue.routingKeys {
                try await probe.channel.queueBind(queue: queue.name, exchange: exchange.name, routingKey: key)
                declared.append(Declared(kind: .binding, name: "\(exchange.name) -> \(queue.name) (\(key))",
                                         outcome: exchangeExisted && queueExisted ? .reasserted : .created))
            }
        }
        try? await probe.channel.close()
        return declared
    }
}

/// A channel for passive declares: the broker closes a channel on `404`, so a fresh one replaces it.
private struct ProbeChannel {
    let connection: AMQPConnection
    var channel: AMQPChannel

    init(connection: AMQPConnection) async throws {
        self.connection = connection
        self.channel = try await connection.openChannel()
    }

    /// Runs a passive declare: `true` when it succeeds, `false` on `404 NOT_FOUND`.
    mutating func exists(_ passiveDeclare: (AMQPChannel) async throws -> Void) async throws -> Bool {
        do {
            try await passiveDeclare(channel)
            return true
        } catch let error as AMQPError where error.replyCode == AMQPError.ReplyCode.notFound {
            channel = try await connection.openChannel()
            return false
        }
    }
}
