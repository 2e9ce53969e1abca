import NIOCore

/// A channel of an ``AMQPConnection``: the unit that declares topology, publishes and consumes.
///
/// Channels survive connection recovery (see ``AMQPConnection``). A channel the broker closes
/// because of an error (such as `404 NOT_FOUND`) stays closed: every later operation throws that
/// error, so open a new channel.
public struct AMQPChannel: Sendable {
    let core: ConnectionCore
    let record: ChannelRecord

    /// The channel number.
    public var id: UInt16 { record.id }

    func run<T: Sendable>(_ operation: @escaping @Sendable (ConnectionCore, ChannelRecord) -> EventLoopFuture<T>) async throws -> T {
        try await core.eventLoop.flatSubmit { [core, record] in core.whenOpen { operation(core, record) } }.get()
    }

    /// Runs a publish of `bytes` message bytes (see ``ConnectionCore/whenOpen(publishing:_:)``).
    func run<T: Sendable>(publishing bytes: Int,
                          _ operation: @escaping @Sendable (ConnectionCore, ChannelRecord) -> EventLoopFuture<T>) async throws -> T {
        try await core.eventLoop.flatSubmit { [core, record] in core.whenOpen(publishing: bytes) { operation(core, record) } }.get()
    }

    /// Sends a synchronous method and checks that the broker answered with the expected reply.
    func call<T: Sendable>(
        _ method: Method, _ extract: @escaping @Sendable (Method) -> T?,
        onReply: @escaping @Sendable (ConnectionCore, T) -> Void = { _, _ in }
    ) async throws -> T {
        try await run { core, record in
            core.call(method, on: record).flatMapThrowing { reply in
                guard case .method(let answer) = reply, let value = extract(answer) else {
                    throw AMQPError(.protocolViolation, "unexpected reply to \(method.ids)")
                }
                onReply(core, value)
                return value
            }
        }
    }

    /// Limits how many unacknowledged deliveries the broker sends (`basic.qos`): per consumer, or
    /// shared by the channel's consumers when `global`. Restored after recovery.
    public func basicQos(prefetchCount: UInt16, global: Bool = false) async throws {
        try await call(.basicQos(prefetchSize: 0, prefetchCount: prefetchCount, global: global), {
            if case .basicQosOk = $0 { return () } else { return nil }
        })
        try await run { core, record in
            record.prefetch = (prefetchCount, global)
            return core.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// Puts the channel in publisher-confirm mode: from now on ``publish(_:exchange:routingKey:properties:)``
    /// returns only once the broker has taken responsibility for the message.
    public func confirmSelect() async throws {
        try await run { core, record in
            record.confirmMode = true
            return core.call(.confirmSelect(noWait: false), on: record).map { _ in }
        }
    }

    /// Publishes a message.
    ///
    /// In confirm mode it returns when the broker confirms the message and throws
    /// ``AMQPError/Code-swift.struct/publishNacked`` when the broker refuses it; many publishes may be
    /// in flight at once from concurrent tasks. Without confirm mode it returns once the message is
    /// handed to the socket. With `mandatory`, a message no queue takes comes back on
    /// ``returns()`` (and is still confirmed).
    ///
    /// While the connection is being recovered the publish waits for it, and an unconfirmed one
    /// is sent again once it is back, unless waiting would pass the recovery's
    /// ``AMQPConnectionConfiguration/Recovery/maximumBufferedBytes`` (it throws
    /// ``AMQPError/Code-swift.struct/bufferFull``) or the broker closed the connection refusing
    /// something the client sent while this publish was unconfirmed (it throws
    /// ``AMQPError/Code-swift.struct/connectionClosed`` with the broker's ``AMQPError/replyCode``).
    public func publish(
        _ body: ByteBuffer, exchange: String = "", routingKey: String, properties: AMQPBasicProperties = .init(),
        mandatory: Bool = false
    ) async throws {
        try await run(publishing: body.readableBytes) { core, record in
            let promise = core.eventLoop.makePromise(of: Void.self)
            let pending = ChannelRecord.PendingPublish(
                publish: Method.Publish(exchange: exchange, routingKey: routingKey, mandatory: mandatory), properties: properties,
                body: body, promise: promise)
            core.publish(pending, on: record)
            return promise.futureResult
        }
    }

    /// Publishes `messages` in order, all in one pass over the socket, and returns when every one
    /// is confirmed (in confirm mode) or handed to the socket.
    ///
    /// This is the pipelined form of ``publish(_:exchange:routingKey:properties:)``: the broker
    /// confirms the batch as it stores it rather than one round trip per message. When the broker
    /// refuses some of them it throws ``AMQPError/Code-swift.struct/publishNacked`` after the
    /// whole batch is settled; those it accepted stay published.
    public func publish(contentsOf messages: [AMQPOutgoingMessage]) async throws {
        guard !messages.isEmpty else { return }
        try await run(publishing: messages.reduce(0) { $0 + $1.body.readableBytes }) { core, record in
            let futures = messages.map { message in
                let promise = core.eventLoop.makePromise(of: Void.self)
                core.publish(ChannelRecord.PendingPublish(
                    publish: Method.Publish(exchange: message.exchange, routingKey: message.routingKey),
                    properties: message.properties, body: message.body, promise: promise), on: record)
                return promise.futureResult
            }
            return EventLoopFuture.andAllComplete(futures, on: core.eventLoop).flatMap {
                EventLoopFuture.andAllSucceed(futures, on: core.eventLoop)
            }
        }
    }

    /// The messages the broker returns on this channel because it could not route them
    /// (published with `mandatory`), from now on, until the channel closes. One stream per
    /// channel: asking again replaces the earlier stream, which ends.
    public func returns() async throws -> AsyncStream<AMQPReturnedMessage> {
        let (stream, continuation) = AsyncStream.makeStream(of: AMQPReturnedMessage.self, bufferingPolicy: .bufferingNewest(1024))
        try await run { core, record in
            record.returns?.finish()
            record.returns = continuation
            return core.eventLoop.makeSucceededVoidFuture()
        }
        return stream
    }

    /// Starts a consumer on `queue` and returns its deliveries as an asynchronous sequence.
    ///
    /// With `noAck` the broker considers messages settled on delivery; otherwise settle each with
    /// ``ack(_:multiple:)``, ``nack(_:multiple:requeue:)`` or ``reject(_:requeue:)``. An empty
    /// `consumerTag` lets the client choose one.
    public func consume(
        queue: String, consumerTag: String = "", noAck: Bool = false, exclusive: Bool = false,
        arguments: AMQPTable = [:]
    ) async throws -> AMQPConsumer {
        let consume = Method.Consume(queue: queue, consumerTag: consumerTag, noAck: noAck, exclusive: exclusive,
                                     arguments: arguments)
        return try await run { core, record in core.consume(consume, on: record) }
    }

    /// Acknowledges a delivery, or with `multiple` every unsettled delivery up to it.
    ///
    /// Returns `false` when the delivery came from a connection that has broken since: nothing is
    /// sent, because the broker has put the message back and delivers it again. The same holds
    /// for ``nack(_:multiple:requeue:)`` and ``reject(_:requeue:)``.
    @discardableResult
    public func ack(_ delivery: AMQPDelivery, multiple: Bool = false) async throws -> Bool {
        try await settle(delivery, .basicAck(deliveryTag: delivery.deliveryTag, multiple: multiple))
    }

    /// Negatively acknowledges a delivery (or every one up to it with `multiple`), requeueing it
    /// unless `requeue` is `false` (then it is dropped or dead-lettered).
    @discardableResult
    public func nack(_ delivery: AMQPDelivery, multiple: Bool = false, requeue: Bool = true) async throws -> Bool {
        try await settle(delivery, .basicNack(deliveryTag: delivery.deliveryTag, multiple: multiple, requeue: requeue))
    }

    /// Rejects one delivery, requeueing it unless `requeue` is `false`.
    @discardableResult
    public func reject(_ delivery: AMQPDelivery, requeue: Bool = true) async throws -> Bool {
        try await settle(delivery, .basicReject(deliveryTag: delivery.deliveryTag, requeue: requeue))
    }

    private func settle(_ delivery: AMQPDelivery, _ method: Method) async throws -> Bool {
        try await run { core, record in core.settle(delivery, with: method, on: record) }
    }

    /// Fetches one message from `queue` (`basic.get`), or `nil` when the queue is empty.
    public func basicGet(queue: String, noAck: Bool = false) async throws -> AMQPGetResult? {
        try await run { core, record in
            core.call(.basicGet(queue: queue, noAck: noAck), on: record).flatMapThrowing { reply in
                switch reply {
                case .method(.basicGetEmpty):
                    return nil
                case .content(.basicGetOk(let ok), let properties, let body):
                    let delivery = AMQPDelivery(
                        body: body, properties: properties, deliveryTag: ok.deliveryTag, redelivered: ok.redelivered,
                        exchange: ok.exchange, routingKey: ok.routingKey, consumerTag: nil, channelID: record.id,
                        generation: core.generation)
                    return AMQPGetResult(delivery: delivery, messageCount: ok.messageCount)
                default:
                    throw AMQPError(.protocolViolation, "unexpected reply to basic.get")
                }
            }
        }
    }

    /// Closes the channel (`channel.close`); its consumers' sequences end and unconfirmed publishes fail.
    public func close() async throws {
        try await run { core, record in core.closeChannel(record) }
    }
}
