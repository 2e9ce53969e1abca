import AMQPClient
import Foundation
import Logging
import NIOCore
import SpoolCore

/// Sends requests to an RPC daemon and awaits each response, paired by a `UUID` header.
///
/// The client declares an exclusive reply queue named `spool.rpc.reply.<uuid>` and consumes it
/// (a name of its own, so the queue keeps it when a broken connection is recovered); each
/// ``call(_:body:timeout:)`` publishes a JSON request carrying a fresh `UUID` header, the reply
/// queue in `reply_to` and the request type in the AMQP `type` property, then waits for the
/// response with the same `UUID`. Any number of calls may be in flight at once. A response whose
/// headers carry `exception` is thrown as ``AMQPRPCRemoteError``; a response for a `UUID` no call
/// waits for (late, after a timeout, or foreign) is logged and dropped.
///
/// ```swift
/// let client = try await AMQPRPCClient.start(connection: connection, configuration: .init(routingKey: "spool.rpc"))
/// let echoed = try await client.call("spool.echo", body: #"{"hello":"world"}"#)
/// try await client.close()
/// ```
public final class AMQPRPCClient: Sendable {
    /// Where requests go and how long a call waits.
    public struct Configuration: Sendable {
        /// The exchange requests are published to; empty for the default exchange.
        public var exchange: String
        /// The routing key of requests: with the default exchange, the daemon's input queue.
        public var routingKey: String
        /// How long a call waits for its response unless it names its own timeout.
        public var timeout: Duration

        /// Creates a configuration.
        public init(exchange: String = "", routingKey: String, timeout: Duration = .seconds(30)) {
            self.exchange = exchange
            self.routingKey = routingKey
            self.timeout = timeout
        }
    }

    /// The configuration the client was started with.
    public let configuration: Configuration
    /// The name of the client's reply queue, sent as `reply_to`.
    public let replyQueue: String
    private let channel: AMQPChannel
    private let consumer: AMQPConsumer
    private let waiters: ResponseWaiters
    private let receiver: Task<Void, Never>

    private init(configuration: Configuration, replyQueue: String, channel: AMQPChannel, consumer: AMQPConsumer,
                 waiters: ResponseWaiters, receiver: Task<Void, Never>) {
        self.configuration = configuration
        self.replyQueue = replyQueue
        self.channel = channel
        self.consumer = consumer
        self.waiters = waiters
        self.receiver = receiver
    }

    /// Opens a channel on `connection`, declares the reply queue and starts consuming it.
    public static func start(
        connection: AMQPConnection, configuration: Configuration, logger: Logger = Logger(label: "spool.amqp.rpc")
    ) async throws -> AMQPRPCClient {
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare("spool.rpc.reply.\(UUID().uuidString.lowercased())", exclusive: true,
                                                   autoDelete: true).name
        let consumer = try await channel.consume(queue: queue, noAck: true, exclusive: true)
        let waiters = ResponseWaiters()
        let receiver = Task { await waiters.receive(from: consumer, logger: logger) }
        return AMQPRPCClient(configuration: configuration, replyQueue: queue, channel: channel, consumer: consumer,
                             waiters: waiters, receiver: receiver)
    }

    /// Sends a request of `type` with a JSON `body` and returns the response.
    ///
    /// Throws ``AMQPRPCRemoteError`` when the daemon reports a failure, ``AMQPRPCError`` with code
    /// ``AMQPRPCError/Code/timeout`` when no response arrives within `timeout` (default: the
    /// configuration's), ``AMQPRPCError/Code/invalidResponse`` for a response that is not JSON,
    /// and ``AMQPRPCError/Code/clientClosed`` once the client is closed.
    public func call(_ type: String, body: JSONPayload, timeout: Duration? = nil) async throws -> AMQPRPCResponse {
        let uuid = UUID().uuidString.lowercased()
        let limit = timeout ?? configuration.timeout
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: AMQPRPCResponse.self)
        try waiters.add(uuid, continuation)
        defer { waiters.remove(uuid) }
        let properties = AMQPBasicProperties(
            contentType: "application/json", headers: [AMQPRPCHeader.uuid: .string(uuid)], replyTo: replyQueue,
            type: type)
        try await channel.publish(body.messageBody, exchange: configuration.exchange,
                                  routingKey: configuration.routingKey, properties: properties)
        return try await withThrowingTaskGroup(of: AMQPRPCResponse.self) { group in
            group.addTask {
                for try await response in stream { return response }
                try Task.checkCancellation()
                throw AMQPRPCError(.clientClosed, "the client closed before the response to \(type) \(uuid) arrived")
            }
            group.addTask {
                try await Task.sleep(for: limit)
                throw AMQPRPCError(.timeout, "no response to \(type) \(uuid) within \(limit)")
            }
            defer { group.cancelAll() }
            guard let response = try await group.next() else {
                throw AMQPRPCError(.clientClosed, "the call to \(type) \(uuid) ended without a response")
            }
            return response
        }
    }

    /// Sends `request` encoded as JSON and decodes the response body as `Response`.
    public func call<Request: Encodable & Sendable, Response: Decodable>(
        _ type: String, _ request: Request, as response: Response.Type = Response.self, timeout: Duration? = nil
    ) async throws -> Response {
        try await call(type, body: JSONPayload(encoding: request), timeout: timeout).body.decode(Response.self)
    }

    /// Stops consuming replies, fails the calls still waiting with ``AMQPRPCError/Code/clientClosed``
    /// and closes the client's channel.
    public func close() async throws {
        waiters.close()
        try? await consumer.cancel()
        await receiver.value
        try await channel.close()
    }
}
