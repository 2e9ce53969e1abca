import NIOCore

/// A message the broker delivered to a consumer or handed out with ``AMQPChannel/basicGet(queue:noAck:)``.
public struct AMQPDelivery: Sendable {
    /// The message body.
    public var body: ByteBuffer
    /// The message properties.
    public var properties: AMQPBasicProperties
    /// The channel-scoped tag to ``AMQPChannel/ack(_:multiple:)``, ``AMQPChannel/nack(_:multiple:requeue:)``
    /// or ``AMQPChannel/reject(_:requeue:)`` the message with.
    public var deliveryTag: UInt64
    /// Whether the broker delivered this message before (to this or another consumer).
    public var redelivered: Bool
    /// The exchange the message was published to (empty for the default exchange).
    public var exchange: String
    /// The routing key the message was published with.
    public var routingKey: String
    /// The consumer it was delivered to; `nil` for `basic.get`.
    public var consumerTag: String?

    /// The channel it arrived on, and which connection of that channel (recoveries start new ones):
    /// acknowledging a delivery from an earlier connection is skipped, as the broker redelivers it.
    let channelID: UInt16
    let generation: UInt64

    /// The application headers (`properties.headers`), empty when there are none.
    public var headers: AMQPTable { properties.headers ?? [:] }
}

/// The broker's answer to ``AMQPChannel/queueDeclare(_:passive:durable:exclusive:autoDelete:arguments:)``.
public struct AMQPQueueDeclaration: Hashable, Sendable {
    /// The queue's name: the one asked for, or the one the broker chose for an empty name.
    public var name: String
    /// How many messages are ready in the queue.
    public var messageCount: UInt32
    /// How many consumers the queue has.
    public var consumerCount: UInt32
}

/// A message fetched with ``AMQPChannel/basicGet(queue:noAck:)``.
public struct AMQPGetResult: Sendable {
    /// The message.
    public var delivery: AMQPDelivery
    /// How many messages remain in the queue.
    public var messageCount: UInt32
}

/// The messages delivered to one consumer, as an asynchronous sequence.
///
/// The sequence ends when the consumer is cancelled (``cancel()``, or the iterating task ends), and
/// throws when its channel or connection closes for good or the broker cancels it. A connection that
/// is being recovered does not end it: deliveries resume once the consumer is re-registered.
public struct AMQPConsumer: AsyncSequence, Sendable {
    /// Deliveries are ``AMQPDelivery`` values.
    public typealias Element = AMQPDelivery

    /// The consumer tag the broker knows this consumer by.
    public let consumerTag: String
    let stream: AsyncThrowingStream<AMQPDelivery, any Error>
    let cancelAction: @Sendable () async throws -> Void

    /// Stops deliveries (`basic.cancel`) and ends the sequence after the messages already received.
    public func cancel() async throws { try await cancelAction() }

    /// An iterator over the deliveries.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<AMQPDelivery, any Error>.AsyncIterator

        /// The next delivery, or `nil` once the consumer is cancelled.
        public mutating func next() async throws -> AMQPDelivery? { try await base.next() }
    }

    /// Makes an iterator; iterate the sequence from one task only.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: stream.makeAsyncIterator()) }
}

/// A message for ``AMQPChannel/publish(contentsOf:)``: its body, where it goes and its properties.
public struct AMQPOutgoingMessage: Sendable {
    /// The message body.
    public var body: ByteBuffer
    /// The exchange to publish to; empty for the default exchange.
    public var exchange: String
    /// The routing key; with the default exchange, the queue's name.
    public var routingKey: String
    /// The message properties.
    public var properties: AMQPBasicProperties

    /// Creates a message.
    public init(body: ByteBuffer, exchange: String = "", routingKey: String, properties: AMQPBasicProperties = .init()) {
        self.body = body
        self.exchange = exchange
        self.routingKey = routingKey
        self.properties = properties
    }
}
