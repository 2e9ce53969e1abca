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
/// - Receiving long-polls (up to 20 s a call), with up to ``Configuration/pollsInFlight`` polls
///   in flight for a receive of more than ten, and hides each message for the visibility asked
///   (SQS counts its receives: the delivery count). What a poll brings in beyond what its
///   receive takes waits, held by this endpoint, for the next receive.
/// - While this endpoint lives, it extends the visibility of every delivery it holds in the
///   background (``Configuration/keepsVisibility``; give visibilities of 2 s or more, so an
///   extension has time to arrive), so a slow handler never causes a second
///   delivery; a message is delivered again once the endpoint is closed or its process dies
///   (after the visibility), as RabbitMQ delivers again once a consumer's channel closes.
/// - Publishes, acknowledgements and visibility changes of concurrent callers go out in batches of
///   up to ten per queue (``Configuration/linger``); an entry SQS fails for its own reasons is
///   tried again, one it refuses throws to its caller, naming the message.
/// - ``retry(_:after:)`` changes the message's visibility to the delay (SQS allows up to 12
///   hours; after a longer delay the message is sent again, due at `spool-not-before`, its
///   deliveries so far in `spool-deliveries`, and hidden when received early).
///   ``deadLetter(_:reason:)`` sends it to the dead-letter queue with `x-dead-letter-reason`
///   among its headers, then deletes it.
/// - Settling a delivery this endpoint no longer holds (its visibility passed, as it can when
///   extension is off or fails) throws ``SpoolError/Code/invalidState``. Closing the endpoint
///   makes what it holds visible again at once.
/// - SQS orders a standard queue's messages on a best-effort basis only.
public final class SQSTransport: Transport {
    /// How an endpoint batches and receives.
    public struct Configuration: Sendable {
        /// How long a batch that is not full waits for more entries before it goes out.
        public var linger: Duration
        /// How many long polls a receive keeps in flight per destination (one per ten messages asked).
        public var pollsInFlight: Int
        /// Whether the visibility of held deliveries is extended in the background.
        public var keepsVisibility: Bool

        /// Creates a configuration.
        public init(linger: Duration = .milliseconds(5), pollsInFlight: Int = 4, keepsVisibility: Bool = true) {
            self.linger = linger
            self.pollsInFlight = max(1, pollsInFlight)
            self.keepsVisibility = keepsVisibility
        }
    }

    struct Held {
        var delivery: TransportDelivery
        var queueURL: String
        var receiptHandle: String
        var expires: ContinuousClock.Instant
        var visibility: Duration
        /// An extension of its visibility is under way.
        var extending = false
    }

    struct State {
        var closed = false
        var queues: [String: Task<String, any Error>] = [:]
        var held: [String: Held] = [:]
        var nextReceipt: UInt64 = 0
        /// Deliveries polls brought in (and this endpoint holds) that no receive has taken yet.
        var ready: [String: [TransportDelivery]] = [:]
        /// Polls in flight per destination.
        var polls: [String: Int] = [:]
        /// A poll's failure, thrown by the next receive from its destination.
        var failures: [String: any Error] = [:]
        var keeping = false
    }

    /// The client requests go through.
    public let client: SQSClient
    /// How this endpoint batches and receives.
    public let configuration: Configuration
    let state = Mutex(State())
    let arrivals = Arrivals()
    let identity = UUID().uuidString.lowercased()
    let sends: EntryBatcher<SQSOutgoingMessage>
    let deletes: EntryBatcher<String>
    let changes: EntryBatcher<(receiptHandle: String, seconds: Int)>

    /// An endpoint on `client`.
    public init(client: SQSClient, configuration: Configuration = Configuration()) {
        self.client = client
        self.configuration = configuration
        sends = EntryBatcher(linger: configuration.linger) { try await client.sendMessageBatch($0, $1) }
        // A delete answered `ReceiptHandleIsInvalid` has nothing left to do: SQS-compatible servers
        // (moto) answer it for a message an earlier try of the same request already deleted (its
        // answer lost) or one received again since, for which SQS itself answers success without
        // deleting; either way the message is gone or comes back, as an unacknowledged one would.
        deletes = EntryBatcher(linger: configuration.linger, settledBy: ["ReceiptHandleIsInvalid"]) {
            try await client.deleteMessageBatch($0, receiptHandles: $1)
        }
        changes = EntryBatcher(linger: configuration.linger) { try await client.changeMessageVisibilityBatch($0, $1) }
    }

    static let idAttribute = "spool-id"
    static let headersAttribute = "spool-headers"
    static let encodingAttribute = "spool-encoding"
    static let deliveriesAttribute = "spool-deliveries"
    static let notBeforeAttribute = "spool-not-before"
    /// The longest visibility SQS allows.
    static let maximumVisibility = Duration.seconds(12 * 3600)

    public func publish(_ messages: [TransportMessage], to destination: String) async throws {
        let queue = try await queueURL(destination)
        let fifo = try Self.isFIFO(destination)
        let outgoing = try messages.map { (entry: try Self.outgoing($0, fifo: fifo), label: "message \($0.id) for \(destination)") }
        try await sends.submit(outgoing, to: queue)
    }

    public func acknowledge(_ delivery: TransportDelivery) async throws {
        let held = try release(delivery)
        try await deletes.submit([(held.receiptHandle, Self.label(delivery))], to: held.queueURL)
    }

    /// Deletes the held ones of `deliveries` in batches of ten per queue, together.
    public func acknowledge(_ deliveries: [TransportDelivery]) async throws {
        var stale: (any Error)?
        var byQueue: [String: [(String, String)]] = [:]
        for delivery in deliveries {
            do {
                let held = try release(delivery)
                byQueue[held.queueURL, default: []].append((held.receiptHandle, Self.label(delivery)))
            } catch let error as SpoolError where error.code == .invalidState {
                stale = stale ?? error
            }
        }
        for (queue, entries) in byQueue { try await deletes.submit(entries, to: queue) }
        if let stale { throw stale }
    }

    public func retry(_ delivery: TransportDelivery, after delay: Duration) async throws {
        let held = try release(delivery)
        if delay <= Self.maximumVisibility {
            let seconds = Int(delay.components.seconds) + (delay.components.attoseconds > 0 ? 1 : 0)
            try await changes.submit([((held.receiptHandle, seconds), Self.label(delivery))], to: held.queueURL)
            return
        }
        guard try !Self.isFIFO(held.delivery.destination) else {
            throw SpoolError(.invalidArgument, "a FIFO queue cannot hold \(held.delivery.destination)'s message back for more than 12 hours")
        }
        var message = try Self.outgoing(held.delivery.message)
        let due = Date().addingTimeInterval(delay.seconds)
        message.attributes[Self.notBeforeAttribute] = .number("\(Int64(due.timeIntervalSince1970 * 1000))")
        message.attributes[Self.deliveriesAttribute] = .number("\(held.delivery.deliveryCount)")
        message.delaySeconds = 900
        try await sends.submit([(message, Self.label(delivery))], to: held.queueURL)
        try await deletes.submit([(held.receiptHandle, Self.label(delivery))], to: held.queueURL)
    }

    public func deadLetter(_ delivery: TransportDelivery, reason: String) async throws {
        let held = try release(delivery)
        var message = held.delivery.message
        message.headers[deadLetterReasonHeader] = reason
        let target = try await queueURL(deadLetterDestination(for: held.delivery.destination))
        try await sends.submit([(try Self.outgoing(message), Self.label(delivery))], to: target)
        try await deletes.submit([(held.receiptHandle, Self.label(delivery))], to: held.queueURL)
    }

    public func close() async throws {
        let held = state.withLock { state in
            state.closed = true
            state.ready = [:]
            defer { state.held = [:] }
            return Array(state.held.values)
        }
        arrivals.signal()
        for (queue, entries) in Dictionary(grouping: held, by: \.queueURL) {
            try? await changes.submit(entries.map { ((receiptHandle: $0.receiptHandle, seconds: 0), Self.label($0.delivery)) }, to: queue)
        }
    }

    private static func label(_ delivery: TransportDelivery) -> String {
        "message \(delivery.message.id) from \(delivery.destination)"
    }

    /// The queue name of `destination`: `.` becomes `-`, but a final `.fifo` stays and names a
    /// FIFO queue; anything but letters, digits, `-` and `_` is refused, as is a name over 80
    /// characters.
    public static func queueName(_ destination: String) throws -> String {
        let fifo = destination.hasSuffix(".fifo") && destination.count > 5
        let base = fifo ? String(destination.dropLast(5)) : destination
        let name = base.replacingOccurrences(of: ".", with: "-") + (fifo ? ".fifo" : "")
        guard !name.isEmpty, name.count <= 80,
              name.dropLast(fifo ? 5 : 0).unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }) else {
            throw SpoolError(.invalidArgument, "destination '\(destination.prefix(100))' cannot be an SQS queue name: use letters, digits, '.', '-' and '_', at most 80")
        }
        return name
    }

    /// Whether `destination` is a FIFO queue (its name ends in `.fifo`).
    static func isFIFO(_ destination: String) throws -> Bool { try queueName(destination).hasSuffix(".fifo") }

    public func backlog(of destination: String) async throws -> TransportBacklog {
        let attributes = try await client.getQueueAttributes(try await queueURL(destination),
                                                             names: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        return TransportBacklog(waiting: attributes["ApproximateNumberOfMessages"].flatMap { Int($0) } ?? 0,
                                inFlight: attributes["ApproximateNumberOfMessagesNotVisible"].flatMap { Int($0) })
    }

    func queueURL(_ destination: String) async throws -> String {
        let name = try Self.queueName(destination)
        let task = try state.withLock { state in
            guard !state.closed else { throw Self.closedError }
            if let task = state.queues[name] { return task }
            let attributes = name.hasSuffix(".fifo") ? ["FifoQueue": "true", "ContentBasedDeduplication": "true"] : [:]
            let task = Task { [client] in try await client.createQueue(name, attributes: attributes) }
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
