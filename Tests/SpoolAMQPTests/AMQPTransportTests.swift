import AMQPClient
import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

@testable import SpoolAMQP

/// The shared transport conformance suite, unchanged, against a real RabbitMQ.
@Suite("AMQP transport conformance", .enabled(if: RabbitMQServer.shouldRun, "RabbitMQ is missing and SPOOL_SKIP_RABBITMQ=1"),
       .timeLimit(.minutes(3)))
struct AMQPTransportConformanceTests {
    @Test(arguments: TransportConformance.cases)
    func conformance(_ check: TransportConformanceCase) async throws {
        let fixture = try await AMQPTransportFixture.make()
        try await check.run(TransportFixture(destination: fixture.destination) { try await fixture.endpoint() })
    }
}

/// What the AMQP transport does beyond the conformance suite: delay queues, delivery counts over
/// several retries, visibility, stale receipts.
@Suite(.enabled(if: RabbitMQServer.shouldRun, "RabbitMQ is missing and SPOOL_SKIP_RABBITMQ=1"), .timeLimit(.minutes(3)))
struct AMQPTransportTests {
    @Test func aDelayedRetryComesBackThroughItsDelayQueueCountedAndWithoutBrokerHeaders() async throws {
        let fixture = try await AMQPTransportFixture.make()
        let transport = try await fixture.endpoint()
        try await transport.publish(TransportMessage(id: "slow", headers: ["k": "v"], text: "x"), to: fixture.destination)
        var delivery = try await fixture.receiveOne(transport)
        for expected in 2...3 {
            let retried = ContinuousClock.now
            try await transport.retry(delivery, after: .milliseconds(400))
            delivery = try await fixture.receiveOne(transport)
            #expect(ContinuousClock.now - retried >= .milliseconds(400), "not before its delay")
            #expect(delivery.message.id == "slow")
            #expect(delivery.deliveryCount == expected)
            #expect(delivery.message.headers == ["k": "v"], "x-death and x-first-death-* stay hidden")
        }
        try await transport.acknowledge(delivery)
        let channel = try await fixture.connection.openChannel()
        let delayQueue = try RetryDelay(.milliseconds(400)).queue(for: fixture.destination)
        #expect(try await channel.queueDeclare(delayQueue, passive: true).messageCount == 0)
        try await transport.close()
    }

    @Test func deliveriesAcknowledgedTogetherLeaveAnEarlierHeldOneUnsettled() async throws {
        let fixture = try await AMQPTransportFixture.make()
        let transport = try await fixture.endpoint()
        try await transport.publish((1...6).map { TransportMessage(id: "m\($0)", text: "\($0)") }, to: fixture.destination)
        var held: [TransportDelivery] = []
        while held.count < 6 { held += try await transport.receive(from: fixture.destination, limit: 6 - held.count, wait: .seconds(5), visibility: .seconds(60)) }
        #expect(held.map(\.message.id) == ["m1", "m2", "m3", "m4", "m5", "m6"])
        try await transport.acknowledge(Array(held[..<3]))   // one frame (multiple): nothing earlier is held
        try await transport.acknowledge([held[4], held[5]])  // m4 is still held: one by one
        try await transport.close()
        let other = try await fixture.endpoint()
        let again = try await other.receive(from: fixture.destination, limit: 6, wait: .seconds(5), visibility: .seconds(60))
        #expect(again.map(\.message.id) == ["m4"], "only the unsettled one comes back")
        try await other.acknowledge(again)
        #expect(try await other.receive(from: fixture.destination, limit: 6, wait: .milliseconds(300), visibility: .seconds(60)).isEmpty)
        try await other.close()
    }

    @Test func aDeliveryNotSettledWithinItsVisibilityIsDeliveredAgainAndItsReceiptGoesStale() async throws {
        let fixture = try await AMQPTransportFixture.make()
        let transport = try await fixture.endpoint()
        try await transport.publish(TransportMessage(id: "forgotten", text: "x"), to: fixture.destination)
        let first = try await fixture.receiveOne(transport, visibility: .milliseconds(300))
        let second = try await fixture.receiveOne(transport)
        #expect(second.message.id == "forgotten")
        #expect(second.deliveryCount == 2)
        await #expect(throws: SpoolError.self) { try await transport.acknowledge(first) }
        try await transport.acknowledge(second)
        await #expect(throws: SpoolError.self) { try await transport.acknowledge(second) }
        try await transport.close()
    }

    @Test func aDeadLetterReachesAnotherClientWithItsReasonAndIdAsAMQPProperties() async throws {
        let fixture = try await AMQPTransportFixture.make()
        let transport = try await fixture.endpoint()
        try await transport.publish(TransportMessage(id: "bad", text: "{"), to: fixture.destination)
        try await transport.deadLetter(try await fixture.receiveOne(transport), reason: "not JSON")
        let channel = try await fixture.connection.openChannel()
        let dead = try #require(try await channel.basicGet(queue: fixture.destination + ".dead", noAck: true))
        #expect(dead.delivery.properties.messageID == "bad")
        #expect(dead.delivery.properties.deliveryMode == 2)
        #expect(dead.delivery.headers[deadLetterReasonHeader]?.stringValue == "not JSON")
        try await transport.close()
    }

    @Test func badArgumentsAreRefusedClearly() async throws {
        let fixture = try await AMQPTransportFixture.make()
        let transport = try await fixture.endpoint()
        await #expect(throws: SpoolError(.invalidArgument, "destination must not be empty")) {
            try await transport.publish(TransportMessage(text: "x"), to: "")
        }
        try await transport.publish(TransportMessage(text: "x"), to: fixture.destination)
        let delivery = try await fixture.receiveOne(transport)
        let error = await #expect(throws: SpoolError.self) { try await transport.retry(delivery, after: .seconds(31 * 86_400)) }
        #expect(error?.code == .invalidArgument)
        try await transport.acknowledge(delivery)
        try await transport.close()
        await #expect(throws: SpoolError.self) { try await transport.publish(TransportMessage(text: "x"), to: fixture.destination) }
    }

    @Test func retryDelaysRoundUpByAtMostAnEighth() throws {
        #expect(try RetryDelay(.zero).milliseconds == 0)
        #expect(try RetryDelay(.seconds(-5)).milliseconds == 0)
        #expect(try RetryDelay(.microseconds(1)).milliseconds == 1)
        #expect(try RetryDelay(.milliseconds(16)).milliseconds == 16)
        #expect(try RetryDelay(.milliseconds(17)).milliseconds == 18)
        #expect(try RetryDelay(.seconds(3600)).milliseconds == 3_670_016)
        for milliseconds in [17, 100, 999, 1000, 1001, 65_537, 86_400_000] as [Int64] {
            let rounded = RetryDelay(milliseconds: milliseconds).milliseconds
            #expect(rounded >= milliseconds && rounded * 8 <= milliseconds * 9, "\(milliseconds) → \(rounded)")
        }
        let distinct = Set((1...100_000).map { RetryDelay(milliseconds: Int64($0)).milliseconds })
        #expect(distinct.count < 120, "few delay queues: \(distinct.count)")
    }
}

/// A vhost of the private RabbitMQ for transport tests, a destination no other test uses, and
/// endpoints with their own connections.
struct AMQPTransportFixture {
    let url: String
    let destination: String
    let connection: AMQPConnection

    static func make(virtualHost: String = "spool-transport") async throws -> AMQPTransportFixture {
        let server = try await RabbitMQServer.start()
        let url = try await server.url(virtualHost: virtualHost)
        return AMQPTransportFixture(url: url, destination: "transport-\(UUID().uuidString.prefix(8))",
                                    connection: try await AMQPConnection.connect(url: url))
    }

    func endpoint(prefetch: UInt16 = 32) async throws -> AMQPTransport {
        try await AMQPTransport.connect(url: url, configuration: .init(prefetch: prefetch))
    }

    func receiveOne(_ transport: AMQPTransport, visibility: Duration = .seconds(60)) async throws -> TransportDelivery {
        let deliveries = try await transport.receive(from: destination, limit: 1, wait: .seconds(20), visibility: visibility)
        return try #require(deliveries.first, "a message arrives on \(destination)")
    }
}
