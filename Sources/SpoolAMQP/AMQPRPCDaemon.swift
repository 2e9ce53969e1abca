import AMQPClient
import Logging
import ServiceLifecycle

/// A long-running RPC server: consumes an input queue and answers each request through the
/// handler registered for its type (seed 004's daemons, as a swift-service-lifecycle `Service`).
///
/// For each request the daemon reads the `UUID` header and `reply_to`, picks the handler by the
/// AMQP `type` property (or a `type` header, or the body's ``Configuration/typeField``), and
/// publishes the handler's JSON result to `reply_to` (or, without one, to
/// ``Configuration/replyExchange``) with the same `UUID` header. A handler's error, an unknown type or a body that is
/// not JSON is answered with the `exception`, `exception_name` and `exception_type` headers.
/// The request is acknowledged only after the broker confirmed the reply.
///
/// A request that cannot be answered, because it has no `UUID` header or no `reply_to`, is never
/// dropped: it is published to the dead-letter queue with a `dead_letter_reason` header, logged,
/// and acknowledged. So is a request whose answer made the broker close the connection (a frame
/// or field it refused) when the broker delivers it again.
///
/// On graceful shutdown the daemon stops consuming, lets the handlers in flight finish and
/// reply, and closes its channel; requests the broker had sent but the daemon had not started
/// go back to the queue.
public final class AMQPRPCDaemon: Service {
    /// Which queues the daemon uses and how many requests it handles at once.
    public struct Configuration: Sendable {
        /// The durable queue requests arrive on; declared by the daemon.
        public var inputQueue: String
        /// The durable queue unanswerable requests go to; declared by the daemon.
        public var deadLetterQueue: String
        /// How many requests are handled at once (the consumer's prefetch).
        public var prefetch: UInt16
        /// Where a request without `reply_to` is answered: this exchange with ``replyRoutingKey``
        /// (edeposit.amqp's clients expect their answers so, on a result queue bound by key);
        /// `nil` dead-letters such requests.
        public var replyExchange: String?
        /// The routing key of answers sent to ``replyExchange``.
        public var replyRoutingKey = ""
        /// A field of the JSON body naming the request type when the message has neither the
        /// AMQP `type` property nor a `type` header (edeposit's serializer writes `__nt_name`).
        public var typeField: String?
        /// How `exception_type` reports a failure: by its stable kind (`requested_failure`), or
        /// as Python's `type(exception)` prints it (`<class 'AMQPRPCFailure'>`), as edeposit's
        /// clients compare it.
        public var exceptionTypeStyle: ExceptionTypeStyle = .kind
        /// Whether a reply the broker returns as undeliverable (its `reply_to` queue is gone) is
        /// put in the dead-letter queue too; it is always logged and counted.
        public var deadLetterUndeliverableReplies = false

        /// How `exception_type` reports a failure.
        public enum ExceptionTypeStyle: String, Sendable, CaseIterable {
            /// The failure's stable kind, such as `requested_failure`.
            case kind
            /// `<class 'NAME'>` with the error's type name, as Python's `type(exception)` prints.
            case python
        }

        /// Creates a configuration; the dead-letter queue defaults to `<inputQueue>.dead`.
        public init(inputQueue: String, deadLetterQueue: String? = nil, prefetch: UInt16 = 16) {
            self.inputQueue = inputQueue
            self.deadLetterQueue = deadLetterQueue ?? "\(inputQueue).dead"
            self.prefetch = prefetch
        }
    }

    let connection: AMQPConnection
    let configuration: Configuration
    let handlers: AMQPRPCHandlers
    let logger: Logger
    let refusedAnswers = RefusedAnswers()

    /// Creates a daemon on `connection`; events (dead letters, failed replies) are logged to
    /// `logger`, by default under `spool.events`.
    public init(connection: AMQPConnection, configuration: Configuration, handlers: AMQPRPCHandlers,
                logger: Logger = Logger(label: "spool.events")) {
        self.connection = connection
        self.configuration = configuration
        self.handlers = handlers
        self.logger = logger
    }

    /// Declares the queues, consumes until graceful shutdown or cancellation, waits for the
    /// requests in flight, and closes the channel.
    public func run() async throws {
        guard !configuration.inputQueue.isEmpty, !configuration.deadLetterQueue.isEmpty,
              configuration.inputQueue != configuration.deadLetterQueue, configuration.prefetch > 0 else {
            throw AMQPRPCError(.invalidConfiguration,
                               "the input and dead-letter queues need distinct names and the prefetch must be positive")
        }
        let channel = try await connection.openChannel()
        try await channel.basicQos(prefetchCount: configuration.prefetch)
        try await channel.confirmSelect()
        try await channel.queueDeclare(configuration.inputQueue, durable: true)
        try await channel.queueDeclare(configuration.deadLetterQueue, durable: true)
        let returned = try await channel.returns()
        let consumer = try await channel.consume(queue: configuration.inputQueue)
        logger.notice("RPC daemon consuming", metadata: [
            "queue": "\(configuration.inputQueue)", "dead-letter-queue": "\(configuration.deadLetterQueue)",
            "types": "\(handlers.types.joined(separator: ","))",
        ])
        let watcher = Task { await self.report(returned, on: channel) }
        defer { watcher.cancel() }
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                for try await delivery in consumer {
                    group.addTask { await self.answer(delivery, on: channel) }
                }
            }
        } onGracefulShutdown: {
            Task { try? await consumer.cancel() }
        }
        logger.notice("RPC daemon stopped", metadata: ["queue": "\(configuration.inputQueue)"])
        try? await channel.close()
    }
}
