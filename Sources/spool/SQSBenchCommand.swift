import ArgumentParser
import Foundation
import SpoolBench
import SQSClient
import SpoolCore
import Synchronization

/// `spool sqs`: Amazon SQS tools.
struct SQSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sqs",
        abstract: "Amazon SQS tools; endpoint, region and credentials come from the AWS variables and files.",
        subcommands: [SQSBenchCommand.self])
}

/// `spool sqs bench`: send and receive throughput on a fresh queue, and the client's CPU time.
struct SQSBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure sending (batches of ten) and receiving (long polls, batched deletes) on a fresh SQS queue.",
        discussion: """
            --senders tasks send batches of ten side by side; then --receivers tasks long-poll ten at a time and \
            delete each batch in one request, until every message arrived. Reports messages per second and the \
            CPU seconds this process spent per 10,000 messages in each phase. The queue is deleted afterwards. \
            Endpoint, region and credentials as the AWS tools find them (AWS_ENDPOINT_URL_SQS for a local server).
            """)

    @Option(help: "How many messages.")
    var messages: Int = 10_000

    @Option(help: "Body size in bytes.")
    var size: Int = 200

    @Option(help: "How many batches are sent at once.")
    var senders: Int = 8

    @Option(help: "How many long polls are in flight at once.")
    var receivers: Int = 8

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Result: Codable {
        var client = "spool"
        var messages: Int
        var size: Int
        var senders: Int
        var receivers: Int
        var sendPerSecond: Double
        var sendCPUSecondsPer10k: Double
        var receivePerSecond: Double
        var receiveCPUSecondsPer10k: Double
        /// Distinct messages received: all of them, or the run would not have ended.
        var received: Int
        /// Messages received again within their visibility (SQS's at-least-once delivery allows it).
        var duplicates: Int
    }

    func run() async throws {
        StoreOptions.bootstrapQuietLogging()
        try await reportingErrors {
            guard messages >= 1, size >= 0, senders >= 1, receivers >= 1 else {
                throw SpoolError(.invalidArgument, "--messages, --senders and --receivers must be at least 1, --size at least 0")
            }
            let sqs = SQSClient(configuration: try AWSConfiguration.sqs())
            let queue = try await sqs.createQueue("spool-bench-\(UUID().uuidString.prefix(8).lowercased())")
            do {
                let result = try await measure(sqs, queue)
                try await sqs.deleteQueue(queue)
                if json { return try Output.json(result) }
                func number(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
                Output.table(["CLIENT", "MESSAGES", "SEND MSGS/S", "SEND CPU S/10K", "RECEIVE MSGS/S", "RECEIVE CPU S/10K", "DUPLICATES"], [[
                    result.client, "\(result.messages)", number(result.sendPerSecond), number(result.sendCPUSecondsPer10k, 3),
                    number(result.receivePerSecond), number(result.receiveCPUSecondsPer10k, 3), "\(result.duplicates)",
                ]])
            } catch {
                try? await sqs.deleteQueue(queue)
                throw error
            }
        }
    }

    /// What the sending and receiving tasks share.
    private final class Progress: Sendable {
        let nextBatch = Mutex(0)
        let seen = Mutex<(unique: Set<String>, duplicates: Int)>(([], 0))
    }

    private func measure(_ sqs: SQSClient, _ queue: String) async throws -> Result {
        let (messages, senders, receivers) = (self.messages, self.senders, self.receivers)
        let body = String(repeating: "x", count: size)
        let batches = (messages + 9) / 10
        let progress = Progress()
        let (sendSeconds, sendCPU) = try await Self.timed {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<senders {
                    group.addTask {
                        while case let batch = progress.nextBatch.withLock({ counter in
                            defer { counter += 1 }
                            return counter
                        }), batch < batches {
                            let count = min(10, messages - batch * 10)
                            let result = try await sqs.sendMessageBatch(queue, (0..<count).map { SQSOutgoingMessage(body: "\(batch * 10 + $0) \(body)") })
                            if let failure = result.failed.first { throw SQSError(SQSError.Code(failure.code), failure.message) }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let (receiveSeconds, receiveCPU) = try await Self.timed {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<receivers {
                    group.addTask {
                        while progress.seen.withLock({ $0.unique.count }) < messages {
                            let received = try await sqs.receiveMessages(queue, maximum: 10, waitSeconds: 1, visibilitySeconds: 60)
                            guard !received.isEmpty else { continue }
                            progress.seen.withLock { state in
                                for message in received where !state.unique.insert(message.messageID).inserted { state.duplicates += 1 }
                            }
                            _ = try await sqs.deleteMessageBatch(queue, receiptHandles: received.map(\.receiptHandle))
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let per10k = 10_000 / Double(messages)
        return Result(messages: messages, size: size, senders: senders, receivers: receivers,
                      sendPerSecond: Double(messages) / sendSeconds, sendCPUSecondsPer10k: sendCPU * per10k,
                      receivePerSecond: Double(messages) / receiveSeconds, receiveCPUSecondsPer10k: receiveCPU * per10k,
                      received: progress.seen.withLock { $0.unique.count }, duplicates: progress.seen.withLock { $0.duplicates })
    }

    /// Runs `body` and returns its wall seconds and this process's CPU seconds (user and system).
    private static func timed(_ body: () async throws -> Void) async throws -> (Double, Double) {
        let cpuBefore = ProcessCPU.seconds()
        let start = ContinuousClock.now
        try await body()
        return ((ContinuousClock.now - start).seconds, ProcessCPU.seconds() - cpuBefore)
    }
}
