import Logging
import NIOCore
import NIOPosix

/// A connection to an AMQP 0-9-1 broker such as RabbitMQ, built on SwiftNIO.
///
/// ## Overview
///
/// The client has three layers. A frame codec turns bytes into frames, methods, content headers and
/// field tables and back, returning errors (never trapping) on malformed input. A pure
/// `ConnectionStateMachine` runs the protocol: handshake with PLAIN authentication, tune negotiation,
/// channel multiplexing, content assembly, heartbeats and the close handshakes, bytes in and actions
/// out. A thin NIO layer executes those actions on a socket and exposes this async API.
///
/// ```swift
/// let connection = try await AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:5672/%2f")
/// let channel = try await connection.openChannel()
/// try await channel.queueDeclare("jobs", durable: true)
/// try await channel.confirmSelect()
/// try await channel.publish(ByteBuffer(string: "hello"), routingKey: "jobs", properties: .persistent)
/// for try await delivery in try await channel.consume(queue: "jobs") {
///     try await channel.ack(delivery)
/// }
/// try await connection.close()
/// ```
///
/// ### Recovery
///
/// When the socket breaks (or the broker closes the connection) the client reconnects with
/// exponential backoff, reopens every open channel under its number, declares again the exchanges,
/// queues and bindings declared through this connection (a server-named queue gets a new name),
/// re-issues `basic.qos` and `confirm.select`, and re-registers consumers under their tags, whose
/// sequences simply continue. Publishes on a confirm-mode channel that the broker had not confirmed
/// are re-sent, so under confirms no message is lost; a message the broker received but whose
/// confirm was lost arrives twice, so consumers must tolerate duplicates. Operations requested
/// while recovering wait until the connection is back (or closed for good); synchronous methods that
/// were in flight when it broke fail with ``AMQPError/Code-swift.struct/connectionClosed``; and
/// acknowledgements of deliveries from the broken connection are skipped, because the broker
/// requeues those messages and delivers them again.
public final class AMQPConnection: Sendable {
    let core: ConnectionCore

    private init(core: ConnectionCore) { self.core = core }

    /// Connects to the broker at `url` (`amqp://user:password@host:port/vhost`); see
    /// ``AMQPConnectionConfiguration/init(url:)`` for the URL's parts.
    public static func connect(
        url: String, recovery: AMQPConnectionConfiguration.Recovery = .default,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "amqp-client")
    ) async throws -> AMQPConnection {
        var configuration = try AMQPConnectionConfiguration(url: url)
        configuration.recovery = recovery
        return try await connect(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// Connects with a full configuration. The first connection attempt is not retried: its failure
    /// (refused socket, failed authentication, unknown vhost) is thrown.
    public static func connect(
        configuration: AMQPConnectionConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "amqp-client")
    ) async throws -> AMQPConnection {
        let core = ConnectionCore(eventLoop: eventLoopGroup.next(), configuration: configuration, logger: logger)
        try await core.eventLoop.flatSubmit {
            core.connectSocket().map { core.phase = .open }.flatMapErrorThrowing { error in
                core.phase = .closed(error as? AMQPError)
                throw error
            }
        }.get()
        return AMQPConnection(core: core)
    }

    /// Opens a channel on the lowest free channel number.
    public func openChannel() async throws -> AMQPChannel {
        let record = try await core.eventLoop.flatSubmit { self.core.whenOpen { self.core.openChannel() } }.get()
        return AMQPChannel(core: core, record: record)
    }

    /// The connection's events from now on: recovery starting and finishing, the broker blocking
    /// publishes, the final close. Each call returns an independent sequence; it ends after
    /// ``AMQPConnectionEvent/closed(_:)``.
    public func events() -> AsyncStream<AMQPConnectionEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: AMQPConnectionEvent.self)
        core.eventLoop.execute { self.core.addListener(continuation) }
        return stream
    }

    /// Closes the connection: `connection.close`, then the socket. Consumers' sequences end,
    /// unconfirmed publishes fail, and recovery stops.
    public func close() async throws {
        try await core.eventLoop.flatSubmit { self.core.close() }.get()
    }
}
