import Foundation
import SQSClient
@testable import SpoolSQS
import SpoolCore
import SpoolTestSupport
import Synchronization
import Testing

/// A client of the tests' moto server through a ``TCPProxy`` that counts SQS actions and can cut
/// the connections.
func proxiedMotoClient(attempts: Int = 4) async throws -> (SQSClient, TCPProxy) {
    let moto = try await MotoServer.start()
    let proxy = try TCPProxy(upstreamPort: moto.port, tag: TCPProxy.sqsAction)
    return (try motoClient(endpoint: proxy.endpoint, attempts: attempts), proxy)
}

/// How the SQS transport batches, polls and keeps what it holds, seen on the wire to moto.
@Suite("SQS transport flow", .enabled(if: MotoServer.shouldRun, "SPOOL_SKIP_MOTO=1"), .timeLimit(.minutes(3)))
struct SQSFlowTests {
    static func destination(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test("concurrent single publishes and acknowledgements go out in batches of up to ten")
    func batching() async throws {
        let (client, proxy) = try await proxiedMotoClient()
        defer { proxy.stop() }
        let transport = SQSTransport(client: client, configuration: .init(linger: .milliseconds(250)))
        let destination = Self.destination("batching")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<30 {
                group.addTask { try await transport.publish(TransportMessage(id: "m\(index)", text: "\(index)"), to: destination) }
            }
            try await group.waitForAll()
        }
        var deliveries: [String: TransportDelivery] = [:]
        while deliveries.count < 30 {
            let received = try await transport.receive(from: destination, limit: 30, wait: .seconds(5), visibility: .seconds(60))
            try #require(!received.isEmpty, "all 30 arrive; got \(deliveries.count)")
            for delivery in received { deliveries[delivery.message.id] = delivery }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for delivery in deliveries.values { group.addTask { try await transport.acknowledge(delivery) } }
            try await group.waitForAll()
        }
        let counts = proxy.counts
        #expect(counts["SendMessage"] == nil && counts["DeleteMessage"] == nil, "\(counts)")
        #expect((3...20).contains(counts["SendMessageBatch"] ?? 0), "30 publishes in a few batches: \(counts)")
        #expect((3...20).contains(counts["DeleteMessageBatch"] ?? 0), "30 acknowledgements in a few batches: \(counts)")
        let after = try await transport.receive(from: destination, limit: 10, wait: .milliseconds(500), visibility: .seconds(60))
        #expect(after.isEmpty, "every acknowledged message is gone")
        try await transport.close()
    }

    @Test("a receive of more than ten keeps several long polls in flight, and what they bring waits for the next receive")
    func pollsInFlight() async throws {
        let (client, proxy) = try await proxiedMotoClient()
        defer { proxy.stop() }
        let transport = SQSTransport(client: client)
        let destination = Self.destination("polls")
        #expect(try await transport.receive(from: destination, limit: 40, wait: .seconds(2), visibility: .seconds(60)).isEmpty)
        #expect((proxy.mostAwaiting["ReceiveMessage"] ?? 0) >= 2, "several polls at once: \(proxy.mostAwaiting)")
        try await transport.publish((0..<25).map { TransportMessage(id: "m\($0)", text: "\($0)") }, to: destination)
        var seen: Set<String> = []
        while seen.count < 25 {
            let received = try await transport.receive(from: destination, limit: 40, wait: .seconds(5), visibility: .seconds(60))
            try #require(!received.isEmpty, "all 25 arrive; got \(seen.count)")
            for delivery in received {
                seen.insert(delivery.message.id)
                try await transport.acknowledge(delivery)
            }
        }
        try await transport.close()
    }

    @Test("a delivery held longer than its visibility is kept hidden from other receivers, and acknowledged after")
    func slowHandler() async throws {
        // A moto of its own: each extension must arrive in time, whatever the other tests ask of the shared one.
        let moto = try await MotoServer.startPrivate()
        let client = try motoClient(endpoint: moto.endpoint)
        let holder = SQSTransport(client: client)
        let other = SQSTransport(client: client)
        let destination = Self.destination("slow")
        try await holder.publish(TransportMessage(id: "slow", text: "x"), to: destination)
        // A visibility of 30 s: each extension has 15 s to arrive, as moto answers slowly beside the
        // whole suite (with 10 s, and once with 20 s, an extension came too late on a loaded
        // machine). The 45 s wait outlasts one visibility, so the delivery must have been extended.
        let delivery = try #require(try await holder.receive(from: destination, limit: 1, wait: .seconds(10), visibility: .seconds(30)).first)
        let meanwhile = try await other.receive(from: destination, limit: 1, wait: .seconds(45), visibility: .seconds(30))
        #expect(meanwhile.isEmpty, "not delivered again while its receiver holds it (45 s with a visibility of 30 s)")
        try await holder.acknowledge(delivery)
        #expect(try await other.receive(from: destination, limit: 1, wait: .seconds(2), visibility: .seconds(30)).isEmpty, "acknowledged: gone")
        try await holder.close()
        try await other.close()
    }

    @Test("an extension of visibility that is slow to answer holds back only its own deliveries, not the extensions of the others")
    func slowExtension() async throws {
        // A moto of its own, behind a proxy that holds the first extension until the end: the
        // extension of the other queue's delivery must go meanwhile, and keep it hidden.
        let moto = try await MotoServer.startPrivate()
        let proxy = try TCPProxy(upstreamPort: moto.port, tag: TCPProxy.sqsAction)
        defer { proxy.stop() }
        let client = try motoClient(endpoint: proxy.endpoint)
        let holder = SQSTransport(client: client), other = SQSTransport(client: client)
        let destinations = [Self.destination("slow-a"), Self.destination("slow-b")]
        for destination in destinations { try await holder.publish(TransportMessage(id: destination, text: "x"), to: destination) }
        proxy.hold("ChangeMessageVisibilityBatch")
        // Both held with a visibility of 20 s: each is extended (one call per queue) once 10 s are
        // left, which gives moto 10 s to answer the one that is not held, however loaded the machine.
        var received = ContinuousClock.now
        for destination in destinations {
            _ = try #require(try await holder.receive(from: destination, limit: 1, wait: .seconds(10), visibility: .seconds(20)).first)
            received = ContinuousClock.now
        }
        try await Task.sleep(until: received + .seconds(22))
        var again: [String] = []
        for destination in destinations {
            again += try await other.receive(from: destination, limit: 1, wait: .seconds(2), visibility: .seconds(60)).map(\.message.id)
        }
        proxy.release()
        #expect((proxy.mostAwaiting["ChangeMessageVisibilityBatch"] ?? 0) >= 2, "the other extension went while the first was held: \(proxy.mostAwaiting)")
        #expect(again.count <= 1, "the delivery whose extension was answered stayed hidden: \(again)")
        try await holder.close()
        try await other.close()
    }

    @Test("long polls waiting on many queues do not hold back a send: it does not queue behind them for a connection")
    func sendBesideLongPolls() async throws {
        // A moto of its own: ten long polls of 20 s, whatever the other tests ask of the shared one.
        let moto = try await MotoServer.startPrivate()
        let client = try motoClient(endpoint: moto.endpoint)
        let transport = SQSTransport(client: client)
        let waiting = (0..<10).map { Self.destination("idle-\($0)") }
        let target = Self.destination("sent")
        for destination in waiting + [target] { _ = try await transport.queueURL(destination) }
        // Ten empty queues, each with a receive waiting 20 s for a message: more long polls than the
        // eight connections a host gets in the shared HTTP client's pool.
        let polls = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for destination in waiting {
                    group.addTask { try await transport.receive(from: destination, limit: 1, wait: .seconds(20), visibility: .seconds(30)).count }
                }
                return try await group.reduce(0, +)
            }
        }
        try await Task.sleep(for: .seconds(3))
        let start = ContinuousClock.now
        try await transport.publish(TransportMessage(id: "beside", text: "x"), to: target)
        let took = ContinuousClock.now - start
        #expect(took < .seconds(10), "the send waited \(took) for a connection held by a long poll")
        #expect(try await polls.value == 0)
        try await transport.close()
    }

    @Test("connections cut between sends and their answers: every confirmed message arrives, and each failure is a clear error")
    func cutConnections() async throws {
        let (client, proxy) = try await proxiedMotoClient(attempts: 8)
        defer { proxy.stop() }
        let transport = SQSTransport(client: client)
        let destination = Self.destination("cut")
        _ = try await transport.queueURL(destination)
        final class Tally: Sendable {
            let confirmed = Mutex<Set<String>>([])
            let failures = Mutex<[String]>([])
        }
        let tally = Tally()
        let cutter = Task {
            for _ in 0..<4 {
                try await Task.sleep(for: .milliseconds(300))
                proxy.cut()
                try await Task.sleep(for: .milliseconds(200))
                proxy.restore()
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for publisher in 0..<8 {
                group.addTask {
                    for index in 0..<40 {
                        let id = "p\(publisher)-\(index)"
                        do {
                            try await transport.publish(TransportMessage(id: id, text: id), to: destination)
                            tally.confirmed.withLock { _ = $0.insert(id) }
                        } catch let error as SQSError {
                            tally.failures.withLock { $0.append("\(error.code): \(error.message)") }
                        }
                        try await Task.sleep(for: .milliseconds(10))
                    }
                }
            }
            try await group.waitForAll()
        }
        try await cutter.value
        let sent = tally.confirmed.withLock { $0 }
        #expect(sent.count > 100, "most publishes were confirmed: \(sent.count), failures \(tally.failures.withLock { $0.prefix(3) })")
        for failure in tally.failures.withLock({ $0 }) {
            #expect(failure.hasPrefix("\(SQSError.Code.connectionFailed)") || failure.hasPrefix("\(SQSError.Code.timeout)"), "\(failure)")
        }
        let receiver = SQSTransport(client: try await motoClient())
        var arrived: Set<String> = []
        let deadline = ContinuousClock.now + .seconds(90)
        while !sent.isSubset(of: arrived), ContinuousClock.now < deadline {
            for delivery in try await receiver.receive(from: destination, limit: 40, wait: .seconds(5), visibility: .seconds(60)) {
                arrived.insert(delivery.message.id)
                try await receiver.acknowledge(delivery)
            }
        }
        #expect(sent.subtracting(arrived).isEmpty, "confirmed but lost: \(sent.subtracting(arrived).sorted().prefix(10))")
        try await transport.close()
        try await receiver.close()
    }
}

/// The batcher's handling of each entry's outcome, against a scripted `send`.
@Suite("SQS entry batcher")
struct EntryBatcherTests {
    @Test("an entry SQS fails for its own reasons is sent again alone; one it refuses throws to its caller, naming it; the rest succeed")
    func partialFailures() async throws {
        let calls = Mutex<[[String]]>([])
        let batcher = EntryBatcher<String>(linger: .milliseconds(50)) { _, entries in
            let attempt = calls.withLock { calls in
                calls.append(entries)
                return calls.count
            }
            var result = SQSBatchResult(succeeded: [:], failed: [])
            for (index, entry) in entries.enumerated() {
                if entry == "flaky" && attempt == 1 {
                    result.failed.append(.init(id: "\(index)", code: "InternalError", message: "try again", senderFault: false))
                } else if entry == "bad" {
                    result.failed.append(.init(id: "\(index)", code: "InvalidParameterValue", message: "bad body", senderFault: true))
                } else {
                    result.succeeded["\(index)"] = "sqs-\(entry)"
                }
            }
            return result
        }
        let refused = Task { try await batcher.submit([("bad", "message bad")], to: "q") }
        try await batcher.submit([("good", "message good"), ("flaky", "message flaky")], to: "q")
        let error = await #expect(throws: SQSError.self) { try await refused.value }
        #expect(error?.code == .invalidParameterValue && error?.message.contains("message bad") == true, "\(String(describing: error))")
        let sent = calls.withLock { $0 }
        #expect(sent.count == 2 && Set(sent[0]) == ["good", "flaky", "bad"] && sent[1] == ["flaky"], "\(sent)")
    }

    @Test("an entry failed with a code the batcher is told settles it counts as done; other codes still throw")
    func settlingCodes() async throws {
        let batcher = EntryBatcher<String>(linger: .milliseconds(10), settledBy: ["ReceiptHandleIsInvalid"]) { _, entries in
            SQSBatchResult(succeeded: [:], failed: entries.indices.map {
                .init(id: "\($0)", code: entries[$0] == "gone" ? "ReceiptHandleIsInvalid" : "InvalidParameterValue", message: "no", senderFault: true)
            })
        }
        try await batcher.submit([("gone", "message gone")], to: "q")
        let error = await #expect(throws: SQSError.self) { try await batcher.submit([("bad", "message bad")], to: "q") }
        #expect(error?.code == .invalidParameterValue, "\(String(describing: error))")
    }

    @Test("a batch goes out when it holds ten, without waiting for the linger")
    func fullBatches() async throws {
        let calls = Mutex<[Int]>([])
        let batcher = EntryBatcher<Int>(linger: .seconds(60)) { _, entries in
            calls.withLock { $0.append(entries.count) }
            return SQSBatchResult(succeeded: Dictionary(uniqueKeysWithValues: entries.indices.map { ("\($0)", "") }), failed: [])
        }
        try await batcher.submit((0..<20).map { ($0, "entry \($0)") }, to: "q")
        #expect(calls.withLock { $0 } == [10, 10])
    }
}

