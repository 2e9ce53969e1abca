import AMQPClient
import Logging
import NIOCore
import ServiceLifecycle
import SpoolAMQP
import SpoolCore
import SpoolTestSupport
import Testing

/// RPC across a connection the broker breaks, in a vhost of its own so other suites keep theirs.
@Suite(.enabled(if: RabbitMQServer.shouldRun, "RabbitMQ is missing and SPOOL_SKIP_RABBITMQ=1"), .timeLimit(.minutes(3)))
struct RPCRecoveryTests {
    @Test func theClientKeepsItsReplyQueueAndIsAnsweredAfterRecovery() async throws {
        let virtualHost = "spool-amqp-recovery"
        let fixture = try await RPCFixture.make(virtualHost: virtualHost)
        try await fixture.withDaemon { _ in
            let client = try await fixture.client()
            let replyQueue = client.replyQueue
            #expect(try await client.call("spool.echo", body: #"{"n":1}"#).body.value == (#"{"n":1}"# as JSONPayload).value)
            var events = fixture.connection.events().makeAsyncIterator()
            try await fixture.server.rabbitmqctl("close_all_connections", "-p", virtualHost, "rpc recovery test")
            while let event = await events.next(), event != .recovered {}
            #expect(try await client.call("spool.echo", body: #"{"n":2}"#).body.value == (#"{"n":2}"# as JSONPayload).value)
            #expect(client.replyQueue == replyQueue)
            #expect(try await fixture.channel.queueDeclare(replyQueue, passive: true).consumerCount == 1)
            try await client.close()
        }
        try await fixture.close()
    }

    @Test func answeredRepliesInADurableQueueSurviveABrokerRestart() async throws {
        let server = try await RabbitMQServer.startPrivate()
        defer { server.stop() }
        let connection = try await AMQPConnection.connect(url: server.url)
        let channel = try await connection.openChannel()
        try await channel.confirmSelect()
        let requests = "restart-requests", replies = "restart-replies"
        try await channel.queueDeclare(requests, durable: true)
        try await channel.queueDeclare(replies, durable: true)
        let daemon = AMQPRPCDaemon(connection: connection, configuration: .init(inputQueue: requests), handlers: .builtin)
        let group = ServiceGroup(configuration: .init(services: [daemon], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        for index in 0..<100 {
            try await channel.publish(ByteBuffer(string: #"{"n":\#(index)}"#), routingKey: requests, properties: .init(
                headers: [AMQPRPCHeader.uuid: .string("request-\(index)")], deliveryMode: 2, replyTo: replies, type: "spool.echo"))
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while try await channel.queueDeclare(replies, passive: true).messageCount < 100, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await channel.queueDeclare(requests, passive: true).messageCount == 0, "every request acknowledged")
        await group.triggerGracefulShutdown()
        try await running.value
        try await connection.close()

        try await server.restartApplication()
        let after = try await AMQPConnection.connect(url: server.url)
        let check = try await after.openChannel()
        #expect(try await check.queueDeclare(replies, passive: true).messageCount == 100, "all 100 answers survived the restart")
        try await after.close()
    }
}
