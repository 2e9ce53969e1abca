import AMQPClient
import ArgumentParser
import Foundation
import NIOCore
import SpoolCore

/// `spool amqp bench`: publish throughput with confirms and consume throughput with prefetch,
/// persistent messages on a fresh durable queue.
struct AMQPBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure persistent publishes with confirms, then consumption with prefetch, on a fresh durable queue.",
        discussion: """
            Publishing keeps up to --window messages unconfirmed (pipelined batches); consuming acknowledges with \
            `multiple` every half prefetch. The queue is deleted afterwards.
            """)

    @Option(help: "How many messages.")
    var messages: Int = 100_000

    @Option(help: "Body size in bytes.")
    var size: Int = 200

    @Option(help: "The consumer's prefetch (basic.qos).")
    var prefetch: UInt16 = 1_000

    @Option(help: "How many published messages may wait for their confirm at once.")
    var window: Int = 2_000

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var broker: AMQPOptions

    struct Result: Codable {
        var client = "spool"
        var method = "AMQPClient: confirm mode, pipelined batches; consumer with prefetch, ack multiple"
        var messages: Int
        var size: Int
        var prefetch: Int
        var window: Int
        var publishSeconds: Double
        var publishPerSecond: Double
        var consumeSeconds: Double
        var consumePerSecond: Double
    }

    func run() async throws {
        broker.bootstrapLogging(default: .error)
        try await reportingErrors {
            guard messages >= 1, size >= 0, prefetch >= 2, window >= 1 else {
                throw SpoolError(.invalidArgument, "--messages and --window must be at least 1, --size at least 0, --prefetch at least 2")
            }
            let connection = try await broker.connect()
            let queue = "spool.bench.\(UUID().uuidString.prefix(8).lowercased())"
            do {
                let result = try await measure(on: connection, queue: queue)
                try await connection.close()
                if json { return try Output.json(result) }
                Output.table(["CLIENT", "MESSAGES", "BYTES", "PUBLISH MSGS/S", "CONSUME MSGS/S"], [[
                    result.client, "\(messages)", "\(size)", String(format: "%.0f", result.publishPerSecond),
                    String(format: "%.0f", result.consumePerSecond),
                ]])
            } catch {
                try? await connection.close()
                throw error
            }
        }
    }

    private func measure(on connection: AMQPConnection, queue: String) async throws -> Result {
        let publisher = try await connection.openChannel()
        try await publisher.queueDeclare(queue, durable: true)
        try await publisher.confirmSelect()
        let publishSeconds = try await publish(on: publisher, to: queue)

        let consumer = try await connection.openChannel()
        try await consumer.basicQos(prefetchCount: prefetch)
        let consumeSeconds = try await consume(on: consumer, from: queue)
        try await publisher.queueDelete(queue)
        return Result(messages: messages, size: size, prefetch: Int(prefetch), window: window,
                      publishSeconds: publishSeconds, publishPerSecond: Double(messages) / publishSeconds,
                      consumeSeconds: consumeSeconds, consumePerSecond: Double(messages) / consumeSeconds)
    }

    /// Publishes every message in batches, keeping at most `window` unconfirmed; returns the seconds taken.
    private func publish(on channel: AMQPChannel, to queue: String) async throws -> Double {
        let body = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
        let batchSize = max(1, min(window / 4, 500))
        let message = AMQPOutgoingMessage(body: body, routingKey: queue, properties: .persistent)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var sent = 0, inFlight = 0
            while sent < messages {
                let count = min(batchSize, messages - sent)
                if inFlight + count > window {
                    _ = try await group.next()
                    inFlight -= batchSize
                }
                let batch = [AMQPOutgoingMessage](repeating: message, count: count)
                group.addTask { try await channel.publish(contentsOf: batch) }
                sent += count
                inFlight += count
            }
            try await group.waitForAll()
        }
        return (ContinuousClock.now - start).seconds
    }

    /// Consumes every message, acknowledging with `multiple` every half prefetch; returns the seconds taken.
    private func consume(on channel: AMQPChannel, from queue: String) async throws -> Double {
        let start = ContinuousClock.now
        let consumer = try await channel.consume(queue: queue)
        let ackEvery = Int(prefetch) / 2
        var received = 0
        for try await delivery in consumer {
            received += 1
            if received % ackEvery == 0 || received == messages { try await channel.ack(delivery, multiple: true) }
            if received == messages { break }
        }
        let seconds = (ContinuousClock.now - start).seconds
        guard received == messages else {
            throw SpoolError(.invalidState, "the consumer ended after \(received) of \(messages) messages")
        }
        try await consumer.cancel()
        return seconds
    }
}
