import AMQPClient
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
}
