import Foundation
import SpoolCore

/// How a transport conformance case reaches the transport under test.
public struct TransportFixture: Sendable {
    /// A destination no other case uses.
    public let destination: String
    /// Opens a new endpoint on the same underlying queues (a new connection, a new process).
    public let endpoint: @Sendable () async throws -> any Transport

    /// Creates a fixture.
    public init(destination: String, endpoint: @escaping @Sendable () async throws -> any Transport) {
        self.destination = destination
        self.endpoint = endpoint
    }
}

/// One named check of the ``Transport`` contract.
public struct TransportConformanceCase: Sendable, CustomStringConvertible {
    /// What the case checks.
    public let name: String
    /// Runs the check.
    public let run: @Sendable (TransportFixture) async throws -> Void

    init(_ name: String, _ run: @escaping @Sendable (TransportFixture) async throws -> Void) {
        self.name = name
        self.run = run
    }

    public var description: String { name }
}

/// The transport conformance suite: every transport runs these cases, unchanged.
public enum TransportConformance {
    static let short = Duration.milliseconds(200)
    static let long = Duration.seconds(30)

    static func receiveOne(_ transport: any Transport, _ destination: String, wait: Duration = .seconds(10),
                           visibility: Duration = long) async throws -> TransportDelivery {
        let deliveries = try await transport.receive(from: destination, limit: 1, wait: wait, visibility: visibility)
        guard let delivery = deliveries.first else { throw ConformanceFailure("no message arrived on \(destination)") }
        return delivery
    }

    /// Every case of the suite.
    public static let cases: [TransportConformanceCase] = [
        TransportConformanceCase("a published message is received with its id, headers and body, and is gone once acknowledged") { fixture in
            let transport = try await fixture.endpoint()
            let body = (0...255).map { UInt8($0) }
            let message = TransportMessage(id: "m-1", headers: ["kind": "greeting", "UUID": "abc"], body: body)
            try await transport.publish(message, to: fixture.destination)
            let delivery = try await receiveOne(transport, fixture.destination)
            try expectEqual(delivery.message.id, "m-1", "id")
            try expectEqual(delivery.message.headers["kind"], "greeting", "header")
            try expectEqual(delivery.message.headers["UUID"], "abc", "header")
            try expectEqual(delivery.message.body, body, "binary body")
            try expectEqual(delivery.deliveryCount, 1, "first delivery")
            try await transport.acknowledge(delivery)
            let after = try await transport.receive(from: fixture.destination, limit: 1, wait: short, visibility: long)
            try expect(after.isEmpty, "an acknowledged message is not delivered again")
            try await transport.close()
        },
        TransportConformanceCase("messages arrive in the order they were published") { fixture in
            let transport = try await fixture.endpoint()
            try await transport.publish((1...5).map { TransportMessage(id: "m\($0)", text: "\($0)") }, to: fixture.destination)
            var seen: [String] = []
            while seen.count < 5 {
                let deliveries = try await transport.receive(from: fixture.destination, limit: 5, wait: .seconds(10), visibility: long)
                try expect(!deliveries.isEmpty, "messages arrive")
                for delivery in deliveries {
                    seen.append(delivery.message.id)
                    try await transport.acknowledge(delivery)
                }
            }
            try expectEqual(seen, ["m1", "m2", "m3", "m4", "m5"], "order")
            try await transport.close()
        },
        TransportConformanceCase("a retried message is delivered again, counted, and not before its delay") { fixture in
            let transport = try await fixture.endpoint()
            try await transport.publish(TransportMessage(id: "later", text: "x"), to: fixture.destination)
            try await transport.publish(TransportMessage(id: "again", text: "y"), to: fixture.destination)
            let later = try await receiveOne(transport, fixture.destination)
            let again = try await receiveOne(transport, fixture.destination)
            try expectEqual([later.message.id, again.message.id], ["later", "again"], "order")
            try await transport.retry(later, after: .seconds(3600))
            try await transport.retry(again, after: .zero)
            let second = try await receiveOne(transport, fixture.destination)
            try expectEqual(second.message.id, "again", "the message retried without delay comes back")
            try expectEqual(second.deliveryCount, 2, "delivery count")
            try await transport.acknowledge(second)
            let early = try await transport.receive(from: fixture.destination, limit: 1, wait: short, visibility: long)
            try expect(early.isEmpty, "the message retried an hour later does not come back now")
            try await transport.close()
        },
        TransportConformanceCase("a dead-lettered message moves to the dead-letter destination with its reason") { fixture in
            let transport = try await fixture.endpoint()
            try await transport.publish(TransportMessage(id: "poison", headers: ["a": "1"], text: "bad"), to: fixture.destination)
            let delivery = try await receiveOne(transport, fixture.destination)
            try await transport.deadLetter(delivery, reason: "cannot parse body")
            let dead = try await receiveOne(transport, transport.deadLetterDestination(for: fixture.destination))
            try expectEqual(dead.message.id, "poison", "the message")
            try expectEqual(dead.message.headers[deadLetterReasonHeader], "cannot parse body", "reason")
            try expectEqual(dead.message.headers["a"], "1", "original headers kept")
            try await transport.acknowledge(dead)
            let source = try await transport.receive(from: fixture.destination, limit: 1, wait: short, visibility: long)
            try expect(source.isEmpty, "gone from the source")
            try await transport.close()
        },
        TransportConformanceCase("a message whose receiver dies without settling it is delivered to another") { fixture in
            let dying = try await fixture.endpoint()
            try await dying.publish(TransportMessage(id: "orphan", text: "x"), to: fixture.destination)
            let first = try await receiveOne(dying, fixture.destination)
            try expectEqual(first.message.id, "orphan", "received")
            let survivor = try await fixture.endpoint()
            let meanwhile = try await survivor.receive(from: fixture.destination, limit: 1, wait: short, visibility: long)
            try expect(meanwhile.isEmpty, "held by its receiver while that lives")
            try await dying.close()
            let again = try await receiveOne(survivor, fixture.destination)
            try expectEqual(again.message.id, "orphan", "delivered again")
            try expect(again.deliveryCount >= 2, "counted as a redelivery, got \(again.deliveryCount)")
            try await survivor.acknowledge(again)
            try await survivor.close()
        },
        TransportConformanceCase("a receive waits for a message published while it waits") { fixture in
            let receiver = try await fixture.endpoint()
            let publisher = try await fixture.endpoint()
            async let received = receiver.receive(from: fixture.destination, limit: 1, wait: .seconds(10), visibility: long)
            try await Task.sleep(for: .milliseconds(150))
            try await publisher.publish(TransportMessage(id: "late", text: "x"), to: fixture.destination)
            let deliveries = try await received
            try expectEqual(deliveries.map(\.message.id), ["late"], "the late message")
            try await receiver.acknowledge(deliveries[0])
            try await receiver.close()
            try await publisher.close()
        },
        TransportConformanceCase("destinations are independent") { fixture in
            let transport = try await fixture.endpoint()
            try await transport.publish(TransportMessage(id: "left", text: "l"), to: fixture.destination + ".left")
            try await transport.publish(TransportMessage(id: "right", text: "r"), to: fixture.destination + ".right")
            let right = try await receiveOne(transport, fixture.destination + ".right")
            try expectEqual(right.message.id, "right", "right")
            try await transport.acknowledge(right)
            let left = try await receiveOne(transport, fixture.destination + ".left")
            try expectEqual(left.message.id, "left", "left")
            try await transport.acknowledge(left)
            try await transport.close()
        },
        TransportConformanceCase("deliveries acknowledged together are gone; a stale one among them is named after the others were settled") { fixture in
            let transport = try await fixture.endpoint()
            let destination = fixture.destination + ".together"
            try await transport.publish((1...3).map { TransportMessage(id: "t-\($0)", text: "\($0)") }, to: destination)
            var held: [TransportDelivery] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while held.count < 3, ContinuousClock.now < deadline {
                held += try await transport.receive(from: destination, limit: 3 - held.count, wait: short, visibility: long)
            }
            try expectEqual(held.count, 3, "three received")
            try await transport.acknowledge(held[0])
            do {
                try await transport.acknowledge(held)
                throw ConformanceFailure("acknowledging a settled delivery again among others did not throw")
            } catch let error as SpoolError {
                try expectEqual(error.code, .invalidState, "the stale receipt's error")
            }
            let after = try await transport.receive(from: destination, limit: 3, wait: short, visibility: long)
            try expect(after.isEmpty, "the two held ones were settled with it: \(after.map(\.message.id))")
            try await transport.close()
        },
        TransportConformanceCase("the backlog counts what waits, and what a receiver holds where the transport can tell") { fixture in
            let transport = try await fixture.endpoint()
            let destination = fixture.destination + ".backlog"
            try expectEqual(try await transport.backlog(of: destination).waiting, 0, "an unused destination waits for nothing")
            try await transport.publish((1...3).map { TransportMessage(id: "b-\($0)", text: "\($0)") }, to: destination)
            try await eventually("three waiting") { try await transport.backlog(of: destination).waiting == 3 }
            let held = try await receiveOne(transport, destination)
            // A transport that cannot tell what receivers hold may have handed this endpoint more
            // than it asked for (RabbitMQ's prefetch): those no longer wait.
            try await eventually("two waiting, one held") {
                let backlog = try await transport.backlog(of: destination)
                guard let inFlight = backlog.inFlight else { return backlog.waiting <= 2 }
                return backlog.waiting == 2 && inFlight == 1
            }
            try await transport.acknowledge(held)
            for _ in 0..<2 { try await transport.acknowledge(try await receiveOne(transport, destination)) }
            try await eventually("nothing left") {
                let backlog = try await transport.backlog(of: destination)
                return backlog.waiting == 0 && (backlog.inFlight ?? 0) == 0
            }
            try await transport.close()
        },
    ]

    /// Checks `condition` until it holds, for up to five seconds (counts some brokers keep are
    /// updated a moment after the operation).
    static func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw ConformanceFailure("the backlog never showed \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
