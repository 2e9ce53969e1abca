import Foundation
import SQSClient
import SpoolCore
import Synchronization

/// A ``Transport`` on Amazon SQS (or a server that speaks its protocol): each destination is a
/// standard queue, created on first use.
///
/// - A destination becomes a queue name by turning each `.` into `-` (SQS names allow letters,
///   digits, `-` and `_`, up to 80 characters); other characters are refused. Dead letters of
///   `jobs` (``Transport/deadLetterDestination(for:)``, `jobs.dead`) thus go to the queue `jobs-dead`.
/// - The message id travels in the message attribute `spool-id` and the headers, as one JSON
///   object, in `spool-headers`; a body that is UTF-8 text SQS accepts is sent as it is, any
///   other body base64-encoded with `spool-encoding: base64`.
/// - Receiving long-polls (up to 20 s a call) and hides each message for the visibility asked
///   (SQS counts its receives: the delivery count). ``retry(_:after:)`` changes the message's
///   visibility to the delay (SQS allows up to 12 hours; after a longer delay the message is
///   sent again, due at `spool-not-before`, its deliveries so far in `spool-deliveries`, and
///   hidden when received early).
///   ``deadLetter(_:reason:)`` sends it to the dead-letter queue with `x-dead-letter-reason`
///   among its headers, then deletes it.
/// - A delivery is held by the endpoint that received it until settled or its visibility
///   passes; settling it after that throws ``SpoolError/Code/invalidState``. Closing the
///   endpoint makes what it holds visible again at once.
/// - SQS orders a standard queue's messages on a best-effort basis only.
public final class SQSTransport: Transport {
    private struct Held {
        var delivery: TransportDelivery
        var queueURL: String
        var receiptHandle: String
        var expires: ContinuousClock.Instant
    }

    private struct State {
        var closed = false
        var queues: [String: Task<String, any Error>] = [:]
        var held: [String: Held] = [:]
        var nextReceipt: UInt64 = 0
    }

    /// The client requests go through.
    public let client: SQSClient
    private let state = Mutex(State())
    private let identity = UUID().uuidString.lowercased()

    /// An endpoint on `client`.
    public init(client: SQSClient) {
        self.client = client
    }

    static let idAttribute = "spool-id"
    static let headersAttribute = "spool-headers"
    static let encodingAttribute = "spool-encoding"
    static let deliveriesAttribute = "spool-deliveries"
    static let notBeforeAttribute = "spool-not-before"
    /// The longest visibility SQS allows.
    static let maximumVisibility = Duration.seconds(12 * 3600)

    /// Sends in batches of ten; an entry SQS fails for its own reasons is sent again (up to
    /// three tries), one it refuses as malformed throws naming the message.
    public func publish(_ messages: [TransportMessage], to destination: String) async throws {
        let queue = try await queueURL(destination)
        let outgoing = try messages.map { try Self.outgoing($0) }
        for start in stride(from: 0, to: outgoing.count, by: 10) {
            var pending = Array(start..<min(start + 10, outgoing.count))
            for attempt in 1...3 where !pending.isEmpty {
                let result = try await client.sendMessageBatch(queue, pending.map { outgoing[$0] })
                let failed = result.failed.compactMap { failure in Int(failure.id).map { (pending[$0], failure) } }
                if let (index, failure) = failed.first(where: { $0.1.senderFault || attempt == 3 }) {
                    throw SQSError(SQSError.Code(failure.code), "SQS refused message \(messages[index].id) for \(destination): \(failure.message)")
                }
                pending = failed.map(\.0)
            }
        }
    }

    public func receive(from destination: String, limit: Int, wait: Duration, visibility: Duration) async throws -> [TransportDelivery] {
        guard limit > 0 else { return [] }
        let queue = try await queueURL(destination)
        let deadline = ContinuousClock.now + wait
        // SQS hides for whole seconds, counted from its answer: rounded up and a second more,
        // so this endpoint's hold, counted from the answer's arrival, always ends first.
        let seconds = Int(min(visibility, Self.maximumVisibility).seconds.rounded(.up)) + 1
        while true {
            let remaining = deadline - ContinuousClock.now
            let waitSeconds = Int(max(.zero, min(remaining, .seconds(20))).components.seconds)
            let received = try await client.receiveMessages(queue, maximum: min(limit, 10), waitSeconds: waitSeconds,
                                                            visibilitySeconds: min(seconds, Int(Self.maximumVisibility.seconds)))
            let messages = try await laterOnesHidden(received, queueURL: queue)
            if !messages.isEmpty { return try hold(messages, from: destination, queueURL: queue, until: ContinuousClock.now + visibility) }
            if ContinuousClock.now >= deadline { return [] }
            if waitSeconds == 0 { try await Task.sleep(for: min(.milliseconds(50), deadline - ContinuousClock.now)) }
        }
    }

    public func acknowledge(_ delivery: TransportDelivery) async throws {
        let held = try release(delivery)
        try await client.deleteMessage(held.queueURL, receiptHandle: held.receiptHandle)
    }

    public func retry(_ delivery: TransportDelivery, after delay: Duration) async throws {
        let held = try release(delivery)
        if delay <= Self.maximumVisibility {
            try await client.changeMessageVisibility(held.queueURL, receiptHandle: held.receiptHandle,
                                                     seconds: Int(delay.components.seconds) + (delay.components.attoseconds > 0 ? 1 : 0))
            return
        }
        var message = try Self.outgoing(held.delivery.message)
        let due = Date().addingTimeInterval(delay.seconds)
        message.attributes[Self.notBeforeAttribute] = .number("\(Int64(due.timeIntervalSince1970 * 1000))")
        message.attributes[Self.deliveriesAttribute] = .number("\(held.delivery.deliveryCount)")
        message.delaySeconds = 900
        _ = try await client.sendMessage(held.queueURL, message)
        try await client.deleteMessage(held.queueURL, receiptHandle: held.receiptHandle)
    }

    /// The messages that are due; those re-sent with a delay beyond SQS's 12 hours and not due
    /// yet are hidden again until they are (or for 12 hours).
    private func laterOnesHidden(_ messages: [SQSMessage], queueURL: String) async throws -> [SQSMessage] {
        let now = Date()
        var due: [SQSMessage] = []
        var early: [(receiptHandle: String, seconds: Int)] = []
        for message in messages {
            guard let text = message.attributes[Self.notBeforeAttribute]?.stringValue, let millis = Double(text),
                  case let wait = millis / 1000 - now.timeIntervalSince1970, wait > 0 else {
                due.append(message)
                continue
            }
            early.append((message.receiptHandle, Int(min(wait.rounded(.up), Self.maximumVisibility.seconds))))
        }
        // A receive returns at most ten messages: one batch hides them all.
        if !early.isEmpty { _ = try await client.changeMessageVisibilityBatch(queueURL, early) }
        return due
    }

    public func deadLetter(_ delivery: TransportDelivery, reason: String) async throws {
        let held = try release(delivery)
        var message = held.delivery.message
        message.headers[deadLetterReasonHeader] = reason
        let target = try await queueURL(deadLetterDestination(for: held.delivery.destination))
        _ = try await client.sendMessage(target, try Self.outgoing(message))
        try await client.deleteMessage(held.queueURL, receiptHandle: held.receiptHandle)
    }

    public func close() async throws {
        let held = state.withLock { state in
            state.closed = true
            defer { state.held = [:] }
            return Array(state.held.values)
        }
        for (queue, entries) in Dictionary(grouping: held, by: \.queueURL) {
            for start in stride(from: 0, to: entries.count, by: 10) {
                let changes = entries[start..<min(start + 10, entries.count)].map { (receiptHandle: $0.receiptHandle, seconds: 0) }
                _ = try? await client.changeMessageVisibilityBatch(queue, changes)
            }
        }
    }

    /// The queue name of `destination`: `.` becomes `-`; anything but letters, digits, `-` and
    /// `_` is refused, as is a name over 80 characters.
    public static func queueName(_ destination: String) throws -> String {
        let name = destination.replacingOccurrences(of: ".", with: "-")
        guard !name.isEmpty, name.count <= 80,
              name.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }) else {
            throw SpoolError(.invalidArgument, "destination '\(destination.prefix(100))' cannot be an SQS queue name: use letters, digits, '.', '-' and '_', at most 80")
        }
        return name
    }

    private func queueURL(_ destination: String) async throws -> String {
        let name = try Self.queueName(destination)
        let task = try state.withLock { state in
            guard !state.closed else { throw Self.closedError }
            if let task = state.queues[name] { return task }
            let task = Task { [client] in try await client.createQueue(name) }
            state.queues[name] = task
            return task
        }
        do {
            return try await task.value
        } catch {
            state.withLock { state in
                if state.queues[name] == task { state.queues[name] = nil }
            }
            throw error
        }
    }

    private func hold(_ messages: [SQSMessage], from destination: String, queueURL: String,
                      until expires: ContinuousClock.Instant) throws -> [TransportDelivery] {
        try state.withLock { state in
            guard !state.closed else { throw Self.closedError }
            return messages.map { sqs in
                state.nextReceipt += 1
                // A message re-sent after a long delay counts the deliveries before it; the waits
                // it was hidden for are receives SQS counted too.
                let previous = sqs.attributes[Self.deliveriesAttribute]?.stringValue.flatMap { Int($0) }
                let count = previous.map { $0 + 1 } ?? sqs.receiveCount
                let delivery = TransportDelivery(message: Self.incoming(sqs), destination: destination,
                                                 deliveryCount: count, receipt: "\(identity).\(state.nextReceipt)")
                state.held[delivery.receipt] = Held(delivery: delivery, queueURL: queueURL, receiptHandle: sqs.receiptHandle, expires: expires)
                return delivery
            }
        }
    }

    /// Takes a delivery out of the endpoint's hands; one it does not hold, or whose visibility
    /// has passed (SQS may have handed it to another receiver), throws.
    private func release(_ delivery: TransportDelivery) throws -> Held {
        try state.withLock { state in
            guard !state.closed else { throw Self.closedError }
            guard let held = state.held.removeValue(forKey: delivery.receipt), held.expires > ContinuousClock.now else {
                throw SpoolError(.invalidState, "delivery \(delivery.receipt) of message \(delivery.message.id) is no longer held")
            }
            return held
        }
    }

    static let closedError = SpoolError(.invalidState, "the SQS transport is closed")
}
