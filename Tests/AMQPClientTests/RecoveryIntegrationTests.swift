import AMQPClient
import NIOCore
import SpoolTestSupport
import Synchronization
import Testing

extension RabbitMQIntegrationTests {
    /// Breaks every connection of its vhost mid-stream with `rabbitmqctl close_all_connections`
    /// and proves that every message the broker confirmed to the publisher reaches the consumer
    /// after recovery. (A vhost of its own: closing the default vhost's connections would break
    /// other tests' connections to the shared node, and their server-named reply queues with them.)
    @Test func recoveryAfterBrokerClosesConnectionsLosesNoConfirmedMessage() async throws {
        let server = try await RabbitMQServer.start()
        let virtualHost = "amqp-client-recovery"
        let url = try await server.url(virtualHost: virtualHost)
        let queue = "recovery.\(UInt32.random(in: 0...UInt32.max))"
        let publishing = try await AMQPConnection.connect(url: url)
        let consuming = try await AMQPConnection.connect(url: url)
        let publisher = try await publishing.openChannel()
        try await publisher.queueDeclare(queue, durable: true)
        try await publisher.confirmSelect()
        let consumerChannel = try await consuming.openChannel()
        try await consumerChannel.queueDeclare(queue, durable: true)
        try await consumerChannel.basicQos(prefetchCount: 100)
        let consumer = try await consumerChannel.consume(queue: queue)

        let confirmed = MessageIDs()
        let received = MessageIDs()
        let expected = ExpectedIDs()
        let breakOutput = try await withDeadline(.seconds(120)) {
            try await withThrowingTaskGroup(of: String.self) { group in
                group.addTask {
                    for try await delivery in consumer {
                        if let id = Int(String(buffer: delivery.body)), id >= 0 { received.insert(id) }
                        try await consumerChannel.ack(delivery)
                        if let target = expected.value, received.all.isSuperset(of: target) { break }
                    }
                    return ""
                }
                let breaker = BreakSignal()
                var batchesAfterBreak = 0
                var next = 0
                while batchesAfterBreak < 10 {
                    if breaker.finished { batchesAfterBreak += 1 }
                    try await withThrowingTaskGroup(of: Void.self) { publishes in
                        for id in next..<(next + 100) {
                            publishes.addTask {
                                try await publisher.publish(ByteBuffer(string: "\(id)"), routingKey: queue,
                                                            properties: .persistent)
                                confirmed.insert(id)
                            }
                        }
                        try await publishes.waitForAll()
                    }
                    next += 100
                    if next == 1_000 { breaker.start { try await server.rabbitmqctl("close_all_connections", "-p", virtualHost, "recovery test") } }
                }
                expected.value = confirmed.all
                try await publisher.publish(ByteBuffer(string: "-1"), routingKey: queue)
                let output = try await breaker.output()
                try await group.waitForAll()
                return output
            }
        }
        let closed = breakOutput.components(separatedBy: "Closed ").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        #expect(closed == 2, "this test's two connections were closed: \(breakOutput)")
        #expect(confirmed.count >= 2_000)
        #expect(received.all.isSuperset(of: confirmed.all))
        try await publisher.queueDelete(queue)
        try await publishing.close()
        try await consuming.close()
    }
}

extension RabbitMQIntegrationTests {
    /// After recovery a server-named exclusive queue exists again under a new name, still bound to
    /// its exchange, and its consumer keeps receiving through the same sequence.
    @Test func recoveryRedeclaresServerNamedQueuesBindingsAndConsumers() async throws {
        let server = try await RabbitMQServer.start()
        let virtualHost = "amqp-client-redeclare"
        let connection = try await AMQPConnection.connect(url: try await server.url(virtualHost: virtualHost))
        var events = connection.events().makeAsyncIterator()
        let channel = try await connection.openChannel()
        let exchange = "recovery.fanout.\(UInt32.random(in: 0...UInt32.max))"
        try await channel.exchangeDeclare(exchange, type: "fanout", autoDelete: true)
        let queue = try await channel.queueDeclare("", exclusive: true)
        try await channel.queueBind(queue: queue.name, exchange: exchange)
        try await channel.basicQos(prefetchCount: 10)
        try await channel.confirmSelect()
        let consumer = try await channel.consume(queue: queue.name)
        var deliveries = consumer.makeAsyncIterator()
        try await channel.publish(ByteBuffer(string: "before"), exchange: exchange, routingKey: "")
        let before = try #require(try await deliveries.next())
        #expect(String(buffer: before.body) == "before")
        try await channel.ack(before)

        try await server.rabbitmqctl("close_all_connections", "-p", virtualHost, "recovery test")
        guard case .recovering(let error) = await events.next() else { Issue.record("no recovering event"); return }
        #expect(error.replyCode == AMQPError.ReplyCode.connectionForced)
        #expect(await events.next() == .recovered)

        try await channel.publish(ByteBuffer(string: "after"), exchange: exchange, routingKey: "")
        let after = try #require(try await deliveries.next())
        #expect(String(buffer: after.body) == "after")
        try await channel.ack(after)
        try await connection.close()
        #expect(await events.next() == .closed(nil))
    }
}

/// Runs the connection break in the background and tells whether it has completed.
final class BreakSignal: Sendable {
    private let task = Mutex<Task<String, any Error>?>(nil)
    private let done = Mutex(false)

    func start(_ operation: @escaping @Sendable () async throws -> String) {
        task.withLock { task in
            task = Task {
                defer { self.done.withLock { $0 = true } }
                return try await operation()
            }
        }
    }

    var finished: Bool { done.withLock { $0 } }

    func output() async throws -> String { try await task.withLock { $0 }?.value ?? "" }
}

/// The ids the consumer must have seen before it stops, known once publishing is over.
final class ExpectedIDs: Sendable {
    private let ids = Mutex<Set<Int>?>(nil)

    var value: Set<Int>? {
        get { ids.withLock { $0 } }
        set { ids.withLock { $0 = newValue } }
    }
}

/// Message ids seen by concurrent tasks.
final class MessageIDs: Sendable {
    private let ids = Mutex<Set<Int>>([])

    func insert(_ id: Int) { ids.withLock { _ = $0.insert(id) } }
    var count: Int { ids.withLock { $0.count } }
    var all: Set<Int> { ids.withLock { $0 } }
}

/// Runs `body`, failing with a timeout error when it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            throw ServerError("timed out after \(limit)")
        }
        group.cancelAll()
        return value
    }
}
