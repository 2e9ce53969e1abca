import AMQPClient
import Foundation
import Logging
import SpoolCore
import Synchronization

/// A ``Transport`` on RabbitMQ (AMQP 0-9-1): each destination is a durable queue reached through
/// the default exchange.
///
/// - Publishing declares the destination queue, sends the messages persistent on a channel in
///   publisher-confirm mode, pipelined, and returns once the broker has confirmed every one.
/// - Receiving consumes the destination on a channel of its own with the configured prefetch and
///   manual acknowledgements; the endpoint buffers what the broker sends, up to the prefetch.
/// - ``retry(_:after:)`` publishes the message again, its delivery count in the header
///   `x-spool-delivery-count`, then acknowledges the delivery. Without a delay it goes straight
///   back to the destination; with one it waits in a per-delay queue whose expired messages the
///   broker dead-letters back to the destination (see ``RetryDelay``): no plugin is needed.
/// - ``deadLetter(_:reason:)`` publishes the message to `<destination>.dead` with the header
///   `x-dead-letter-reason`, then acknowledges the delivery.
/// - A delivery not settled within its `visibility` is returned as by `retry(after: .zero)`.
/// - Closing the endpoint, or its process dying, makes the broker deliver again what the
///   endpoint held (such a redelivery counts one more delivery).
///
/// A connection that breaks is recovered by ``AMQPConnection`` without losing confirmed
/// messages. Deliveries received before the break are stale: settling one throws
/// ``SpoolError/Code/invalidState`` and the broker delivers the message again, so receivers must
/// tolerate duplicates, as with any at-least-once transport.
///
/// ```swift
/// let transport = try await AMQPTransport.connect(url: "amqp://guest:guest@127.0.0.1:5672/%2f")
/// try await transport.publish(TransportMessage(text: "hello"), to: "greetings")
/// for delivery in try await transport.receive(from: "greetings", limit: 10, wait: .seconds(5), visibility: .seconds(60)) {
///     try await transport.acknowledge(delivery)
/// }
/// try await transport.close()
/// ```
public final class AMQPTransport: Transport {
    /// How an endpoint consumes.
    public struct Configuration: Sendable {
        /// How many unsettled messages the broker hands this endpoint per destination.
        public var prefetch: UInt16
        /// Declares destination queues (not their dead-letter and delay queues) with
        /// `x-single-active-consumer`: however many endpoints consume a destination, the broker
        /// delivers to one at a time, in queue order, and another takes over when it goes.
        /// Every endpoint that declares the queue must agree (RabbitMQ refuses a declaration
        /// with other arguments).
        public var singleActiveConsumer: Bool

        /// Creates a configuration.
        public init(prefetch: UInt16 = 32, singleActiveConsumer: Bool = false) {
            self.prefetch = prefetch
            self.singleActiveConsumer = singleActiveConsumer
        }

        /// The arguments destination queues are declared with.
        var destinationArguments: AMQPTable { singleActiveConsumer ? ["x-single-active-consumer": .boolean(true)] : [:] }
    }

    /// A delivery handed out and not settled yet.
    struct Held {
        var delivery: TransportDelivery
        var amqp: AMQPDelivery
        var inbox: TransportInbox
    }

    struct State {
        var closed = false
        var publisher: Task<AMQPChannel, any Error>?
        var inboxes: [String: Task<TransportInbox, any Error>] = [:]
        /// The inboxes `inboxes` has opened, by destination.
        var opened: [String: TransportInbox] = [:]
        var retired: [TransportInbox] = []
        var declared: Set<String> = []
        var held: [String: Held] = [:]
        var nextReceipt: UInt64 = 0
        var expiries: [UInt64: Task<Void, Never>] = [:]
        var nextExpiry: UInt64 = 0
    }

    /// The endpoint's configuration.
    public let configuration: Configuration
    let connection: AMQPConnection
    let logger: Logger
    let state = Mutex(State())
    private let ownsConnection: Bool
    private let identity = UUID().uuidString.lowercased()

    /// An endpoint on `connection`, which it shares: ``close()`` closes only the endpoint's channels.
    public convenience init(connection: AMQPConnection, configuration: Configuration = .init(),
                logger: Logger = Logger(label: "spool.amqp.transport")) {
        self.init(connection: connection, owning: false, configuration: configuration, logger: logger)
    }

    private init(connection: AMQPConnection, owning: Bool, configuration: Configuration, logger: Logger) {
        self.connection = connection
        self.ownsConnection = owning
        self.configuration = configuration
        self.logger = logger
    }

    /// An endpoint with a connection of its own to the broker at `url`
    /// (`amqp://user:password@host:port/vhost`); ``close()`` closes the connection.
    public static func connect(url: String, configuration: Configuration = .init(),
                               logger: Logger = Logger(label: "spool.amqp.transport")) async throws -> AMQPTransport {
        let connection = try await AMQPConnection.connect(url: url, logger: logger)
        return AMQPTransport(connection: connection, owning: true, configuration: configuration, logger: logger)
    }

    public func publish(_ messages: [TransportMessage], to destination: String) async throws {
        try Self.validate(destination)
        guard !messages.isEmpty else { return }
        try await declare(destination, arguments: configuration.destinationArguments)
        let outgoing = messages.map { AMQPTransportEnvelope.outgoing($0, to: destination) }
        try await withPublisher { try await $0.publish(contentsOf: outgoing) }
    }

    public func receive(from destination: String, limit: Int, wait: Duration, visibility: Duration) async throws -> [TransportDelivery] {
        try Self.validate(destination)
        guard limit > 0 else { return [] }
        let inbox = try await inbox(for: destination)
        let deliveries: [AMQPDelivery]
        do {
            deliveries = try await inbox.take(limit: limit, wait: wait)
        } catch {
            retire(inbox)
            if state.withLock({ $0.closed }) { throw Self.closedError }
            throw error
        }
        guard !deliveries.isEmpty else { return [] }
        let handedOut = try state.withLock { state in
            guard !state.closed else { throw Self.closedError }
            return deliveries.map { amqp in
                state.nextReceipt += 1
                let (message, count) = AMQPTransportEnvelope.incoming(amqp)
                let delivery = TransportDelivery(message: message, destination: destination, deliveryCount: count,
                                                 receipt: "\(identity).\(state.nextReceipt)")
                state.held[delivery.receipt] = Held(delivery: delivery, amqp: amqp, inbox: inbox)
                return delivery
            }
        }
        returnUnsettled(handedOut.map(\.receipt), after: visibility)
        return handedOut
    }

    public func close() async throws {
        let closing = state.withLock { state in
            let closing = state
            state = State()
            state.closed = true
            return closing
        }
        guard !closing.closed else { return }
        for expiry in closing.expiries.values { expiry.cancel() }
        if ownsConnection { return try await connection.close() }
        for inbox in closing.inboxes.values { await (try? await inbox.value)?.close() }
        for inbox in closing.retired { await inbox.close() }
        try? await closing.publisher?.value.close()
    }

    static let closedError = SpoolError(.invalidState, "the AMQP transport is closed")

    private static func validate(_ destination: String) throws {
        guard !destination.isEmpty else { throw SpoolError(.invalidArgument, "destination must not be empty") }
    }

    /// Declares the durable queue `queue` once per endpoint, or every time when `again` (which
    /// also restarts an expiring queue's clock).
    /// The queue's ready messages (`queue.declare`'s count); RabbitMQ does not tell how many
    /// consumers hold unacknowledged.
    public func backlog(of destination: String) async throws -> TransportBacklog {
        try await declare(destination, arguments: configuration.destinationArguments)
        let declaration = try await withPublisher {
            try await $0.queueDeclare(destination, durable: true, arguments: configuration.destinationArguments)
        }
        return TransportBacklog(waiting: Int(declaration.messageCount), inFlight: nil)
    }

    func declare(_ queue: String, arguments: AMQPTable = [:], again: Bool = false) async throws {
        if !again, state.withLock({ $0.declared.contains(queue) }) { return }
        _ = try await withPublisher { try await $0.queueDeclare(queue, durable: true, arguments: arguments) }
        state.withLock { _ = $0.declared.insert(queue) }
    }

    /// Runs `body` on the endpoint's confirm-mode channel, opening it first when needed; a channel
    /// the broker closed (after a failed declaration, say) is replaced on the next call.
    func withPublisher<T: Sendable>(_ body: (AMQPChannel) async throws -> T) async throws -> T {
        let task = try state.withLock { state in
            guard !state.closed else { throw Self.closedError }
            if let task = state.publisher { return task }
            let task = Task { [connection] in
                let channel = try await connection.openChannel()
                try await channel.confirmSelect()
                return channel
            }
            state.publisher = task
            return task
        }
        do {
            return try await body(try await task.value)
        } catch let error as AMQPError where error.code == .channelClosed || error.code == .connectionClosed {
            state.withLock { state in
                if state.publisher == task { state.publisher = nil }
            }
            throw error
        }
    }

    private func inbox(for destination: String) async throws -> TransportInbox {
        let task = try state.withLock { state in
            guard !state.closed else { throw Self.closedError }
            if let task = state.inboxes[destination] { return task }
            let task = Task { [connection, configuration] in
                try await TransportInbox.open(destination, on: connection, prefetch: configuration.prefetch,
                                              arguments: configuration.destinationArguments)
            }
            state.inboxes[destination] = task
            return task
        }
        do {
            let inbox = try await task.value
            state.withLock { state in
                if state.inboxes[destination] == task { state.opened[destination] = inbox }
            }
            return inbox
        } catch {
            state.withLock { state in
                if state.inboxes[destination] == task { state.inboxes[destination] = nil }
            }
            throw error
        }
    }

    /// Stops handing out from an inbox whose consumer ended; the next receive starts a new one.
    /// Its channel stays open until the endpoint closes, for deliveries still held from it.
    private func retire(_ inbox: TransportInbox) {
        state.withLock { state in
            guard state.opened[inbox.destination] === inbox else { return }
            state.opened[inbox.destination] = nil
            state.inboxes[inbox.destination] = nil
            state.retired.append(inbox)
        }
    }
}
