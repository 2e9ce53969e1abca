import AMQPClient
import NIOCore
import SpoolTestSupport
import Testing

/// End-to-end behaviour against a real, private RabbitMQ (see ``RabbitMQServer``). Serialized,
/// because the recovery test breaks every connection of the node.
@Suite(.serialized, .enabled(if: RabbitMQServer.shouldRun, "RabbitMQ is missing and SPOOL_SKIP_RABBITMQ=1"))
struct RabbitMQIntegrationTests {
    private func connect(_ query: String = "") async throws -> (RabbitMQServer, AMQPConnection) {
        let server = try await RabbitMQServer.start()
        return (server, try await AMQPConnection.connect(url: server.url + query))
    }

    @Test func declarePublishConsumeAckRoundTrip() async throws {
        let (_, connection) = try await connect()
        let channel = try await connection.openChannel()
        try await channel.exchangeDeclare("roundtrip.x", type: "topic", autoDelete: true)
        let queue = try await channel.queueDeclare("", exclusive: true)
        #expect(queue.name.hasPrefix("amq.gen-"))
        try await channel.queueBind(queue: queue.name, exchange: "roundtrip.x", routingKey: "jobs.#")
        let properties = AMQPBasicProperties(contentType: "application/json", deliveryMode: 2, priority: 3,
                                             correlationID: "c-1", replyTo: "answers", messageID: "m-1",
                                             timestamp: 1_700_000_000, type: "job", appID: "tests")
        try await channel.publish(ByteBuffer(string: #"{"n":1}"#), exchange: "roundtrip.x", routingKey: "jobs.new",
                                  properties: properties)
        let consumer = try await channel.consume(queue: queue.name)
        var iterator = consumer.makeAsyncIterator()
        let delivery = try #require(try await iterator.next())
        #expect(String(buffer: delivery.body) == #"{"n":1}"#)
        #expect(delivery.properties == properties)
        #expect(delivery.exchange == "roundtrip.x")
        #expect(delivery.routingKey == "jobs.new")
        #expect(delivery.redelivered == false)
        #expect(delivery.consumerTag == consumer.consumerTag)
        try await channel.ack(delivery)
        try await consumer.cancel()
        #expect(try await iterator.next() == nil)
        #expect(try await channel.basicGet(queue: queue.name) == nil)
        #expect(try await channel.queueDeclare(queue.name, passive: true).messageCount == 0)
        try await connection.close()
    }

    @Test func nackRequeuesAndRejectDrops() async throws {
        let (_, connection) = try await connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare("", exclusive: true).name
        try await channel.publish(ByteBuffer(string: "once"), routingKey: queue)
        let first = try #require(try await channel.basicGet(queue: queue))
        try await channel.nack(first.delivery, requeue: true)
        let again = try #require(try await channel.basicGet(queue: queue))
        #expect(again.delivery.redelivered)
        #expect(String(buffer: again.delivery.body) == "once")
        try await channel.reject(again.delivery, requeue: false)
        #expect(try await channel.basicGet(queue: queue) == nil)
        #expect(try await channel.queuePurge(queue) == 0)
        try await connection.close()
    }

    @Test func confirmsTenThousandPipelinedPersistentMessages() async throws {
        let (_, connection) = try await connect()
        let channel = try await connection.openChannel()
        let queue = "confirms.\(UInt32.random(in: 0...UInt32.max))"
        try await channel.queueDeclare(queue, durable: true)
        try await channel.confirmSelect()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<10_000 {
                group.addTask {
                    try await channel.publish(ByteBuffer(string: "message \(index)"), routingKey: queue,
                                              properties: .persistent)
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        print("10,000 persistent messages confirmed in \(elapsed)")
        #expect(try await channel.queueDeclare(queue, passive: true).messageCount == 10_000)
        #expect(try await channel.queueDelete(queue) == 10_000)
        try await connection.close()
    }

    @Test func headerTablesRoundTripEveryFieldType() async throws {
        let (_, connection) = try await connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare("", exclusive: true).name
        let headers: AMQPTable = [
            "t": .boolean(true), "b": .int8(-8), "B": .uint8(200), "s": .int16(-1600), "u": .uint16(60000),
            "I": .int32(-320_000), "i": .uint32(4_000_000_000), "l": .int64(-64_000_000_000), "f": .float(1.5),
            "d": .double(-2.25), "D": .decimal(scale: 2, value: 12345), "S": .string("grüße"),
            "A": .array([.int32(1), .string("two"), .array([.void]), .table(["k": .boolean(false)])]),
            "T": .timestamp(1_700_000_000), "F": .table(["nested": .table(["deep": .int64(1)])]), "V": .void,
            "x": .bytes([0, 1, 254, 255]),
        ]
        try await channel.publish(ByteBuffer(string: "h"), routingKey: queue, properties: AMQPBasicProperties(headers: headers))
        let fetched = try #require(try await channel.basicGet(queue: queue, noAck: true))
        #expect(fetched.delivery.headers == headers)
        try await connection.close()
    }

    @Test func contentLargerThanFrameMaxIsSplitAndReassembled() async throws {
        let (_, connection) = try await connect("?frame_max=4096")
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare("", exclusive: true).name
        try await channel.confirmSelect()
        let bytes = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await channel.publish(ByteBuffer(bytes: bytes), routingKey: queue)
        let fetched = try #require(try await channel.basicGet(queue: queue, noAck: true))
        #expect(fetched.delivery.body == ByteBuffer(bytes: bytes))
        try await connection.close()
    }

    @Test func serverChannelErrorSurfacesReplyCodeAndText() async throws {
        let (_, connection) = try await connect()
        let channel = try await connection.openChannel()
        let error = try await #require(throws: AMQPError.self) {
            try await channel.queueDeclare("no-such-queue", passive: true)
        }
        #expect(error.code == .channelClosed)
        #expect(error.replyCode == AMQPError.ReplyCode.notFound)
        #expect(error.message.contains("no-such-queue"))
        let later = try await #require(throws: AMQPError.self) { try await channel.queuePurge("anything") }
        #expect(later.replyCode == AMQPError.ReplyCode.notFound)
        let fresh = try await connection.openChannel()
        #expect(try await fresh.queueDeclare("", exclusive: true).messageCount == 0)
        try await connection.close()
    }

    /// With a one-second heartbeat and no traffic, the broker keeps the connection only if the client
    /// sends heartbeats; recovery is off so a dropped connection would fail the next call. Waiting is
    /// the behaviour under test here, so this test sleeps.
    @Test func idleConnectionIsKeptAliveByHeartbeats() async throws {
        let server = try await RabbitMQServer.start()
        let connection = try await AMQPConnection.connect(url: server.url + "?heartbeat=1", recovery: .disabled)
        let channel = try await connection.openChannel()
        try await Task.sleep(for: .seconds(4))
        #expect(try await channel.queueDeclare("", exclusive: true).messageCount == 0)
        try await connection.close()
    }

    @Test func brokerNackSurfacesAsPublishError() async throws {
        let (_, connection) = try await connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.queueDeclare("", exclusive: true, arguments: [
            "x-max-length": .int32(1), "x-overflow": .string("reject-publish"),
        ]).name
        try await channel.confirmSelect()
        try await channel.publish(ByteBuffer(string: "fits"), routingKey: queue)
        let error = try await #require(throws: AMQPError.self) {
            try await channel.publish(ByteBuffer(string: "overflows"), routingKey: queue)
        }
        #expect(error.code == .publishNacked)
        try await connection.close()
    }

    @Test func exchangeAndQueueBindingsRouteUntilUnbound() async throws {
        let (_, connection) = try await connect()
        let channel = try await connection.openChannel()
        let suffix = UInt32.random(in: 0...UInt32.max)
        let (source, destination) = ("bind.source.\(suffix)", "bind.destination.\(suffix)")
        try await channel.exchangeDeclare(source, type: "direct")
        try await channel.exchangeDeclare(destination, type: "fanout")
        try await channel.exchangeBind(destination: destination, source: source, routingKey: "k")
        let queue = try await channel.queueDeclare("", exclusive: true).name
        try await channel.queueBind(queue: queue, exchange: destination)
        try await channel.confirmSelect()
        try await channel.publish(ByteBuffer(string: "routed"), exchange: source, routingKey: "k")
        #expect(try await channel.basicGet(queue: queue, noAck: true).map { String(buffer: $0.delivery.body) } == "routed")
        try await channel.exchangeUnbind(destination: destination, source: source, routingKey: "k")
        try await channel.publish(ByteBuffer(string: "dropped"), exchange: source, routingKey: "k")
        #expect(try await channel.basicGet(queue: queue) == nil)
        try await channel.exchangeBind(destination: destination, source: source, routingKey: "k")
        try await channel.queueUnbind(queue: queue, exchange: destination)
        try await channel.publish(ByteBuffer(string: "dropped too"), exchange: source, routingKey: "k")
        #expect(try await channel.basicGet(queue: queue) == nil)
        try await channel.exchangeDelete(destination)
        try await channel.exchangeDelete(source)
        try await connection.close()
    }
}
