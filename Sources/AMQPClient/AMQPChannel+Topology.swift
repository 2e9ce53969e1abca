import NIOCore

extension AMQPChannel {
    /// Declares an exchange (`exchange.declare`); with `passive`, only checks that it exists.
    /// Non-passive declarations are declared again after recovery.
    public func exchangeDeclare(
        _ name: String, type: String = "direct", passive: Bool = false, durable: Bool = false,
        autoDelete: Bool = false, internal: Bool = false, arguments: AMQPTable = [:]
    ) async throws {
        let declaration = Method.ExchangeDeclare(exchange: name, type: type, passive: passive, durable: durable,
                                                 autoDelete: autoDelete, internal: `internal`, arguments: arguments)
        try await call(.exchangeDeclare(declaration), { if case .exchangeDeclareOk = $0 { () } else { nil } },
                       onReply: { core, _ in core.topology.record(declaration) })
    }

    /// Deletes an exchange; with `ifUnused`, only when it has no bindings.
    public func exchangeDelete(_ name: String, ifUnused: Bool = false) async throws {
        try await call(.exchangeDelete(Method.ExchangeDelete(exchange: name, ifUnused: ifUnused)),
                       { if case .exchangeDeleteOk = $0 { () } else { nil } },
                       onReply: { core, _ in core.topology.removeExchange(name) })
    }

    /// Binds exchange `destination` to exchange `source` (a RabbitMQ extension).
    public func exchangeBind(destination: String, source: String, routingKey: String = "", arguments: AMQPTable = [:]) async throws {
        let binding = Method.Binding(destination: destination, source: source, routingKey: routingKey, arguments: arguments)
        try await call(.exchangeBind(binding), { if case .exchangeBindOk = $0 { () } else { nil } },
                       onReply: { core, _ in core.topology.recordExchangeBinding(binding) })
    }

    /// Removes a binding made with ``exchangeBind(destination:source:routingKey:arguments:)``.
    public func exchangeUnbind(destination: String, source: String, routingKey: String = "", arguments: AMQPTable = [:]) async throws {
        let binding = Method.Binding(destination: destination, source: source, routingKey: routingKey, arguments: arguments)
        try await call(.exchangeUnbind(binding), { if case .exchangeUnbindOk = $0 { () } else { nil } },
                       onReply: { core, _ in core.topology.removeExchangeBinding(binding) })
    }

    /// Declares a queue (`queue.declare`); an empty name lets the broker choose one. With `passive`,
    /// only checks that it exists (a missing queue closes the channel with `404 NOT_FOUND`).
    @discardableResult
    public func queueDeclare(
        _ name: String = "", passive: Bool = false, durable: Bool = false, exclusive: Bool = false,
        autoDelete: Bool = false, arguments: AMQPTable = [:]
    ) async throws -> AMQPQueueDeclaration {
        let declaration = Method.QueueDeclare(queue: name, passive: passive, durable: durable, exclusive: exclusive,
                                              autoDelete: autoDelete, arguments: arguments)
        let ok = try await call(.queueDeclare(declaration), { if case .queueDeclareOk(let ok) = $0 { ok } else { nil } },
                                onReply: { core, ok in core.topology.record(declaration, assignedName: ok.queue) })
        return AMQPQueueDeclaration(name: ok.queue, messageCount: ok.messageCount, consumerCount: ok.consumerCount)
    }

    /// Binds `queue` to `exchange` with `routingKey`.
    public func queueBind(queue: String, exchange: String, routingKey: String = "", arguments: AMQPTable = [:]) async throws {
        let binding = Method.Binding(destination: queue, source: exchange, routingKey: routingKey, arguments: arguments)
        try await call(.queueBind(binding), { if case .queueBindOk = $0 { () } else { nil } },
                       onReply: { core, _ in core.topology.recordQueueBinding(binding) })
    }

    /// Removes a binding made with ``queueBind(queue:exchange:routingKey:arguments:)``.
    public func queueUnbind(queue: String, exchange: String, routingKey: String = "", arguments: AMQPTable = [:]) async throws {
        let binding = Method.Binding(destination: queue, source: exchange, routingKey: routingKey, arguments: arguments)
        try await call(.queueUnbind(binding), { if case .queueUnbindOk = $0 { () } else { nil } },
                       onReply: { core, _ in core.topology.removeQueueBinding(binding) })
    }

    /// Removes every ready message from `queue`; returns how many were removed.
    @discardableResult
    public func queuePurge(_ queue: String) async throws -> UInt32 {
        try await call(.queuePurge(queue: queue, noWait: false), { if case .queuePurgeOk(let count) = $0 { count } else { nil } })
    }

    /// Deletes `queue`; with `ifUnused` only when it has no consumers, with `ifEmpty` only when empty.
    /// Returns how many messages were deleted with it.
    @discardableResult
    public func queueDelete(_ queue: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> UInt32 {
        try await call(.queueDelete(Method.QueueDelete(queue: queue, ifUnused: ifUnused, ifEmpty: ifEmpty)),
                       { if case .queueDeleteOk(let count) = $0 { count } else { nil } },
                       onReply: { core, _ in core.topology.removeQueue(queue) })
    }
}
