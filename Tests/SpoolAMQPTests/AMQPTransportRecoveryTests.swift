import AMQPClient
import Foundation
import SpoolAMQP
import SpoolCore
import SpoolTestSupport
import Synchronization
import Testing

/// The AMQP transport across broken connections (`rabbitmqctl close_all_connections`).
@Suite(.enabled(if: RabbitMQServer.shouldRun, "RabbitMQ is missing and SPOOL_SKIP_RABBITMQ=1"), .timeLimit(.minutes(3)))
struct AMQPTransportRecoveryTests {
    /// Publishes in batches while the broker closes every connection of the vhost, and proves
    /// that every message whose publish returned reaches the receiver, which keeps receiving;
    /// deliveries from before the break cannot be settled and come back instead.
    @Test func noConfirmedMessageIsLostWhenTheBrokerBreaksTheConnections() async throws {
        let virtualHost = "spool-transport-recovery"
        let fixture = try await AMQPTransportFixture.make(virtualHost: virtualHost)
        let server = try await RabbitMQServer.start()
        let publisher = try await fixture.endpoint()
        let receiver = try await fixture.endpoint(prefetch: 100)
        let confirmed = Mutex<Set<String>>([])
        let breakOutput = Mutex<String?>(nil)
        let publishedAll = Mutex(false)

        let publishing = Task {
            var breaking: Task<String, any Error>?
            for batch in 0..<40 {
                if batch == 10 {
                    breaking = Task { try await server.rabbitmqctl("close_all_connections", "-p", virtualHost, "recovery test") }
                }
                if batch == 20, let breaking {
                    let output = try await breaking.value
                    breakOutput.withLock { $0 = output }
                }
                let messages = (0..<50).map { TransportMessage(id: "\(batch)-\($0)", text: "\(batch)") }
                do {
                    try await publisher.publish(messages, to: fixture.destination)
                    confirmed.withLock { $0.formUnion(messages.map(\.id)) }
                } catch let error as AMQPError where error.code == .connectionClosed {
                    continue
                }
            }
            publishedAll.withLock { $0 = true }
        }

        var received: Set<String> = []
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let deliveries = try await receiver.receive(from: fixture.destination, limit: 100, wait: .milliseconds(500),
                                                        visibility: .seconds(60))
            for delivery in deliveries {
                do {
                    try await receiver.acknowledge(delivery)
                    received.insert(delivery.message.id)
                } catch let error as SpoolError where error.code == .invalidState {
                    // Received before the break: the broker delivers it again.
                }
            }
            if deliveries.isEmpty, publishedAll.withLock({ $0 }), received.isSuperset(of: confirmed.withLock({ $0 })) {
                break
            }
        }
        try await publishing.value
        let output = breakOutput.withLock { $0 } ?? ""
        #expect(output.contains("Closed 3 connections"), "close_all_connections said: \(output)")
        let all = confirmed.withLock { $0 }
        #expect(all.count >= 1_500, "most batches were confirmed")
        #expect(received.isSuperset(of: all), "missing: \(all.subtracting(received).sorted().prefix(10))")
        try await publisher.close()
        try await receiver.close()
    }
}
