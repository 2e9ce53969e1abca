import AMQPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SpoolAMQP
import SpoolTestSupport

/// A connection to a vhost of the private RabbitMQ (`spool-amqp` unless named), a fresh input
/// queue, and helpers to run a daemon on it.
struct RPCFixture {
    let server: RabbitMQServer
    let url: String
    let connection: AMQPConnection
    let channel: AMQPChannel
    /// A queue name no other test uses; declared durable, with its dead-letter queue
    /// `<queue>.dead`, so requests wait for the daemon and dead letters for the test.
    let queue: String

    static func make(virtualHost: String = "spool-amqp") async throws -> RPCFixture {
        let server = try await RabbitMQServer.start()
        let url = try await server.url(virtualHost: virtualHost)
        let connection = try await AMQPConnection.connect(url: url)
        let channel = try await connection.openChannel()
        let queue = "rpc-\(UUID().uuidString.prefix(8))"
        try await channel.queueDeclare(queue, durable: true)
        try await channel.queueDeclare("\(queue).dead", durable: true)
        return RPCFixture(server: server, url: url, connection: connection, channel: channel, queue: queue)
    }

    /// A client that sends to the fixture's queue through the default exchange.
    func client(timeout: Duration = .seconds(60)) async throws -> AMQPRPCClient {
        try await AMQPRPCClient.start(connection: connection,
                                      configuration: .init(routingKey: queue, timeout: timeout))
    }

    /// Runs a daemon with `handlers` on the queue while `body` runs, then shuts it down gracefully
    /// and waits for it to finish.
    func withDaemon<T>(
        _ handlers: AMQPRPCHandlers = .builtin, prefetch: UInt16 = 16, configuration: AMQPRPCDaemon.Configuration? = nil,
        _ body: (ServiceGroup) async throws -> T
    ) async throws -> T {
        let daemon = AMQPRPCDaemon(connection: connection,
                                   configuration: configuration ?? .init(inputQueue: queue, prefetch: prefetch), handlers: handlers)
        let group = ServiceGroup(configuration: .init(services: [daemon], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        do {
            let result = try await body(group)
            await group.triggerGracefulShutdown()
            try await running.value
            return result
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await running.value
            throw error
        }
    }

    /// The first message on `queue`, waiting up to `limit`.
    func firstMessage(on queue: String, within limit: Duration = .seconds(60)) async throws -> AMQPDelivery {
        let consumer = try await channel.consume(queue: queue, noAck: true)
        defer { Task { try? await consumer.cancel() } }
        return try await withDeadline(limit) {
            for try await delivery in consumer { return delivery }
            throw ServerError("the consumer of \(queue) ended")
        }
    }

    func close() async throws {
        try await connection.close()
    }
}

/// Runs `body`, failing with a clear error when it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw ServerError("timed out after \(limit)")
        }
        defer { group.cancelAll() }
        guard let value = try await group.next() else { throw ServerError("no result") }
        return value
    }
}
