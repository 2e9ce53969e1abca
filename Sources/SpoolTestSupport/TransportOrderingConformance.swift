import Foundation
import SpoolCore

/// The cases every transport that orders by key (``orderKeysHeader``: the stores' table queues)
/// passes, unchanged: messages sharing a key go one at a time, in publish order, across
/// receivers; messages without keys are not held back.
public enum TransportOrderingConformance {
    static func message(_ id: String, keys: [String]) throws -> TransportMessage {
        var headers: [String: String] = [:]
        if !keys.isEmpty { headers[orderKeysHeader] = try JSONPayload(encoding: keys).text }
        return TransportMessage(id: id, headers: headers, text: id)
    }

    static func take(_ transport: any Transport, _ destination: String, wait: Duration = .zero) async throws -> [TransportDelivery] {
        try await transport.receive(from: destination, limit: 10, wait: wait, visibility: .seconds(60))
    }

    /// Every case.
    public static let cases: [TransportConformanceCase] = [
        TransportConformanceCase("a message waits while an earlier one with a shared key is left; settling or dead-lettering it lets the next go") { fixture in
            let first = try await fixture.endpoint(), second = try await fixture.endpoint()
            let destination = fixture.destination
            try await first.publish([message("a1", keys: ["A"]), message("b1", keys: ["B"]), message("a2", keys: ["A"]),
                                     message("ab", keys: ["A", "B"]), message("free", keys: [])], to: destination)
            let taken = try await take(first, destination)
            try expectEqual(taken.map(\.message.id), ["a1", "b1", "free"], "a2 and ab wait behind a1 and b1")
            try expectEqual(try await take(second, destination).map(\.message.id), [], "another receiver gets none of the held-back messages")
            try await first.acknowledge(taken[0])
            let next = try await take(second, destination)
            try expectEqual(next.map(\.message.id), ["a2"], "a1 settled: a2 goes; ab still waits for b1 and a2")
            try await second.retry(next[0], after: .seconds(2))
            try await first.acknowledge(taken[1])
            // Until its delay passes nothing goes (a loaded machine may already be past it): never ab.
            var again = try await take(first, destination)
            try expect(!again.contains { $0.message.id == "ab" }, "a2 returned for later still holds ab back: \(again.map(\.message.id))")
            if again.isEmpty { again = try await take(first, destination, wait: .seconds(20)) }
            try expectEqual(again.map(\.message.id), ["a2"], "a2 once its delay passed")
            try await first.deadLetter(again[0], reason: "unreadable")
            let last = try await take(second, destination)
            try expectEqual(last.map(\.message.id), ["ab"], "a dead letter holds nothing back")
            try await second.acknowledge(last[0])
            try await first.acknowledge(taken[2])
            try expectEqual(try await take(second, destination).map(\.message.id), [], "nothing is left")
            try await first.close()
            try await second.close()
        },
        TransportConformanceCase("many receivers at once hand out each key's messages one at a time, in publish order") { fixture in
            let publisher = try await fixture.endpoint()
            let destination = fixture.destination + ".race"
            let keys = ["A", "B", "C", "D"]
            let messages = try (0..<120).map { index in try message("\(keys[index % 4])-\(index)", keys: [keys[index % 4]]) }
            try await publisher.publish(messages, to: destination)
            let seen = Recorder()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let receiver = try await fixture.endpoint()
                        var idle = 0
                        while idle < 3 {
                            let deliveries = try await receiver.receive(from: destination, limit: 3, wait: .milliseconds(300), visibility: .seconds(60))
                            idle = deliveries.isEmpty ? idle + 1 : 0
                            for delivery in deliveries {
                                try seen.begin(delivery.message.id)
                                try await Task.sleep(for: .milliseconds(1))
                                seen.end(delivery.message.id)
                                try await receiver.acknowledge(delivery)
                            }
                        }
                        try await receiver.close()
                    }
                }
                try await group.waitForAll()
            }
            let order = seen.order
            try expectEqual(order.count, messages.count, "every message handled once")
            for key in keys {
                let handled = order.filter { $0.hasPrefix(key + "-") }
                let published = messages.map(\.id).filter { $0.hasPrefix(key + "-") }
                try expectEqual(handled, published, "key \(key) in publish order")
            }
            try await publisher.close()
        },
    ]

    /// What receivers handled: fails when two messages of one key are in hand at once.
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var held: Set<String> = []
        private var handled: [String] = []

        /// The ids begun, in order.
        var order: [String] { lock.withLock { handled } }

        func begin(_ id: String) throws {
            let key = String(id.prefix { $0 != "-" })
            try lock.withLock {
                guard held.insert(key).inserted else { throw ConformanceFailure("two messages of key \(key) were handled at once (\(id))") }
                handled.append(id)
            }
        }

        func end(_ id: String) {
            _ = lock.withLock { held.remove(String(id.prefix { $0 != "-" })) }
        }
    }
}
