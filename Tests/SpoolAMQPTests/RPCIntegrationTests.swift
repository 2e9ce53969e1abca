import AMQPClient
import Foundation
import NIOCore
import SpoolAMQP
import SpoolCore
import SpoolTestSupport
import Synchronization
import Testing

/// The RPC client and daemon against a real, private RabbitMQ (see ``RabbitMQServer``).
@Suite(.enabled(if: RabbitMQServer.shouldRun, "RabbitMQ is missing and SPOOL_SKIP_RABBITMQ=1"), .timeLimit(.minutes(3)))
struct RPCIntegrationTests {
    @Test func echoRoundTripPairsTheResponseByUUID() async throws {
        let fixture = try await RPCFixture.make()
        try await fixture.withDaemon { _ in
            let client = try await fixture.client()
            let response = try await client.call("spool.echo", body: #"{"hello":"world","n":[1,2]}"#)
            #expect(response.body.value == (#"{"hello":"world","n":[1,2]}"# as JSONPayload).value)
            #expect(response.headers[AMQPRPCHeader.uuid]?.stringValue == response.uuid)
            #expect(UUID(uuidString: response.uuid) != nil)
            try await client.close()
        }
        try await fixture.close()
    }

    @Test func handlerErrorSurfacesTheThreeExceptionHeaders() async throws {
        let fixture = try await RPCFixture.make()
        try await fixture.withDaemon { _ in
            let client = try await fixture.client()
            let error = await #expect(throws: AMQPRPCRemoteError.self) {
                _ = try await client.call("spool.fail", body: #"{"message":"disk on fire"}"#)
            }
            #expect(error?.message == "disk on fire")
            #expect(error?.name == "AMQPRPCFailure")
            #expect(error?.type == "requested_failure")
            try await client.close()
        }
        try await fixture.close()
    }

    @Test func unknownRequestTypeGetsAnErrorReply() async throws {
        let fixture = try await RPCFixture.make()
        try await fixture.withDaemon { _ in
            let client = try await fixture.client()
            let error = await #expect(throws: AMQPRPCRemoteError.self) {
                _ = try await client.call("no.such.type", body: "{}")
            }
            #expect(error?.type == "unknown_request_type")
            #expect(error?.name == "AMQPRPCError")
            #expect(error?.message.contains("no.such.type") == true)
            try await client.close()
        }
        try await fixture.close()
    }

    @Test func aReplyToAQueueThatIsGoneIsReportedAndDeadLettered() async throws {
        let fixture = try await RPCFixture.make()
        var configuration = AMQPRPCDaemon.Configuration(inputQueue: fixture.queue)
        configuration.deadLetterUndeliverableReplies = true
        try await fixture.withDaemon(configuration: configuration) { _ in
            let uuid = UUID().uuidString
            try await fixture.channel.publish(ByteBuffer(string: #"{"lost":true}"#), routingKey: fixture.queue, properties: .init(
                headers: [AMQPRPCHeader.uuid: .string(uuid)], replyTo: "gone-\(uuid)", type: "spool.echo"))
            let dead = try await fixture.firstMessage(on: "\(fixture.queue).dead")
            #expect(dead.headers[AMQPRPCHeader.uuid]?.stringValue == uuid, "the reply, with its UUID")
            #expect(dead.headers[AMQPRPCHeader.deadLetterReason]?.stringValue?.contains("could not be delivered to 'gone-\(uuid)'") == true,
                    "\(dead.headers)")
            #expect(String(buffer: dead.body) == #"{"lost":true}"#)
        }
        try await fixture.close()
    }

    @Test func callWithoutDaemonTimesOut() async throws {
        let fixture = try await RPCFixture.make()
        let client = try await fixture.client(timeout: .seconds(600))
        let started = ContinuousClock.now
        let error = await #expect(throws: AMQPRPCError.self) {
            _ = try await client.call("spool.echo", body: "{}", timeout: .milliseconds(300))
        }
        #expect(error?.code == .timeout)
        #expect(ContinuousClock.now - started < .seconds(120), "the call's own timeout, not the client's 600 s")
        try await client.close()
        try await fixture.close()
    }

    @Test func lateResponseForAnUnknownUUIDIsDroppedAndTheClientGoesOn() async throws {
        let fixture = try await RPCFixture.make()
        let client = try await fixture.client()
        await #expect(throws: AMQPRPCError.self) {
            _ = try await client.call("spool.echo", body: #"{"late":true}"#, timeout: .milliseconds(200))
        }
        try await fixture.withDaemon { _ in
            let response = try await client.call("spool.echo", body: #"{"late":false}"#)
            #expect(response.body == #"{"late":false}"#)
        }
        try await client.close()
        try await fixture.close()
    }

    @Test func twoHundredConcurrentCallsArePairedCorrectly() async throws {
        let fixture = try await RPCFixture.make()
        var handlers = AMQPRPCHandlers()
        handlers.register("test.square", as: [String: Int].self) { request -> [String: Int] in
            let n = request["n"] ?? 0
            try await Task.sleep(for: .milliseconds(n % 7))
            return ["n": n, "square": n * n]
        }
        try await fixture.withDaemon(handlers, prefetch: 32) { _ in
            let client = try await fixture.client(timeout: .seconds(120))
            let results = try await withThrowingTaskGroup(of: (Int, [String: Int]).self) { group in
                for n in 0..<200 {
                    group.addTask { (n, try await client.call("test.square", ["n": n], as: [String: Int].self)) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(results.count == 200)
            for (n, response) in results {
                #expect(response == ["n": n, "square": n * n])
            }
            try await client.close()
        }
        try await fixture.close()
    }

    @Test func requestWithoutUUIDIsDeadLetteredWithItsReason() async throws {
        let fixture = try await RPCFixture.make()
        try await fixture.withDaemon { _ in
            let properties = AMQPBasicProperties(headers: ["origin": .string("test")], replyTo: "nowhere", type: "spool.echo")
            try await fixture.channel.publish(ByteBuffer(string: #"{"lost":true}"#), routingKey: fixture.queue,
                                              properties: properties)
            let dead = try await fixture.firstMessage(on: "\(fixture.queue).dead")
            #expect(String(buffer: dead.body) == #"{"lost":true}"#)
            #expect(dead.headers[AMQPRPCHeader.deadLetterReason]?.stringValue == "the request has no UUID header")
            #expect(dead.headers["origin"]?.stringValue == "test")
            #expect(dead.properties.type == "spool.echo")
        }
        let input = try await fixture.channel.queueDeclare(fixture.queue, passive: true)
        #expect(input.messageCount == 0)
        try await fixture.close()
    }

    @Test func requestWithoutReplyToIsDeadLettered() async throws {
        let fixture = try await RPCFixture.make()
        try await fixture.withDaemon { _ in
            let properties = AMQPBasicProperties(headers: [AMQPRPCHeader.uuid: .string("abc")], type: "spool.echo")
            try await fixture.channel.publish(ByteBuffer(string: "{}"), routingKey: fixture.queue, properties: properties)
            let dead = try await fixture.firstMessage(on: "\(fixture.queue).dead")
            #expect(dead.headers[AMQPRPCHeader.deadLetterReason]?.stringValue == "the request has no reply_to")
        }
        try await fixture.close()
    }

    @Test func malformedBodyAndHeadersGetAnErrorReplyNotACrash() async throws {
        let fixture = try await RPCFixture.make()
        let replies = try await fixture.channel.queueDeclare("", exclusive: true).name
        try await fixture.withDaemon { _ in
            let properties = AMQPBasicProperties(
                headers: [AMQPRPCHeader.uuid: .string("bad-body"), AMQPRPCHeader.type: .int32(5)],
                replyTo: replies, type: "spool.echo")
            try await fixture.channel.publish(ByteBuffer(bytes: [0xFF, 0xFE, 0x7B]), routingKey: fixture.queue,
                                              properties: properties)
            let reply = try await fixture.firstMessage(on: replies)
            #expect(reply.headers[AMQPRPCHeader.uuid]?.stringValue == "bad-body")
            #expect(reply.headers[AMQPRPCHeader.exceptionType]?.stringValue == "invalid_request")
            #expect(String(buffer: reply.body) == "null")
        }
        try await fixture.close()
    }

    @Test func gracefulShutdownLetsTheRequestInFlightReply() async throws {
        let fixture = try await RPCFixture.make()
        let (started, startedSignal) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
        let releaseStream = Mutex<AsyncStream<Void>?>(release)
        var handlers = AMQPRPCHandlers()
        handlers.register("test.slow") { request in
            startedSignal.yield()
            if let stream = releaseStream.withLock({ $0.take() }) {
                for await _ in stream { break }
            }
            return request.body
        }
        let client = try await fixture.client()
        try await fixture.withDaemon(handlers) { group in
            let call = Task { try await client.call("test.slow", body: #"{"slow":1}"#) }
            for await _ in started { break }
            await group.triggerGracefulShutdown()
            releaseSignal.yield()
            let response = try await call.value
            #expect(response.body == #"{"slow":1}"#)
        }
        try await client.close()
        try await fixture.close()
    }

    @Test func closingTheClientFailsWaitingCalls() async throws {
        let fixture = try await RPCFixture.make()
        let client = try await fixture.client()
        let call = Task { try await client.call("spool.echo", body: "{}") }
        let input = fixture.queue
        _ = try await withDeadline(.seconds(20)) {
            for try await delivery in try await fixture.channel.consume(queue: input, noAck: true) { return delivery }
            throw ServerError("no request published")
        }
        try await client.close()
        let error = await #expect(throws: AMQPRPCError.self) { _ = try await call.value }
        #expect(error?.code == .clientClosed)
        try await fixture.close()
    }
}
