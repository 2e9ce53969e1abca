import Foundation

/// A message a transport carries: an id, string headers and an opaque body.
public struct TransportMessage: Hashable, Sendable {
    /// The message's id, unique per publisher (a UUID unless given).
    public var id: String
    /// Header names and values.
    public var headers: [String: String]
    /// The body bytes.
    public var body: [UInt8]

    /// Creates a message; the id defaults to a new UUID.
    public init(id: String = UUID().uuidString.lowercased(), headers: [String: String] = [:], body: [UInt8]) {
        self.id = id
        self.headers = headers
        self.body = body
    }

    /// Creates a message whose body is UTF-8 text.
    public init(id: String = UUID().uuidString.lowercased(), headers: [String: String] = [:], text: String) {
        self.init(id: id, headers: headers, body: Array(text.utf8))
    }
}

/// A message handed to a receiver, to be acknowledged, returned or dead-lettered.
public struct TransportDelivery: Hashable, Sendable {
    /// The message.
    public var message: TransportMessage
    /// The destination it was received from.
    public var destination: String
    /// How many times it has been handed out, this time included (1 on first delivery).
    public var deliveryCount: Int
    /// The transport's token for acknowledging this delivery; stale after a redelivery.
    public var receipt: String

    /// Creates a delivery.
    public init(message: TransportMessage, destination: String, deliveryCount: Int, receipt: String) {
        self.message = message
        self.destination = destination
        self.deliveryCount = deliveryCount
        self.receipt = receipt
    }
}

/// Moves messages between processes with at-least-once delivery (DESIGN §5): publish, receive
/// with acknowledgement, return for retry, and dead-lettering. The stores' table queues (`TableQueue`, `PostgresTableQueue`),
/// RabbitMQ (`AMQPTransport`), Amazon SQS (`SQSTransport`) and ``InMemoryTransport`` implement
/// it; the transport conformance suite in SpoolTestSupport is its definition of correct (see
/// <doc:ImplementingATransport>).
public protocol Transport: Sendable {
    /// Publishes `messages` to `destination`, in order; returns once they are durable.
    func publish(_ messages: [TransportMessage], to destination: String) async throws

    /// Receives up to `limit` messages from `destination`, waiting up to `wait` for the first.
    /// Each stays invisible to other receivers until acknowledged, returned, dead-lettered, or
    /// until `visibility` passes (then it is delivered again). An endpoint may keep what it holds
    /// hidden for as long as it lives (RabbitMQ and SQS endpoints do); `visibility` then bounds
    /// how long a message stays hidden after its receiver's process dies.
    func receive(from destination: String, limit: Int, wait: Duration, visibility: Duration) async throws -> [TransportDelivery]

    /// Acknowledges a delivery: the message is gone. A stale receipt throws
    /// ``SpoolError/Code/invalidState``.
    func acknowledge(_ delivery: TransportDelivery) async throws

    /// Acknowledges several deliveries, in one transaction or request where the transport can.
    /// Each that is held is settled; then, if any receipt was stale, the call throws
    /// ``SpoolError/Code/invalidState`` naming it. The default settles them one by one.
    func acknowledge(_ deliveries: [TransportDelivery]) async throws

    /// Returns a delivery to its destination, to be delivered again after `delay`.
    func retry(_ delivery: TransportDelivery, after delay: Duration) async throws

    /// Moves a delivery to the dead-letter destination ``deadLetterDestination(for:)`` with
    /// the header `x-dead-letter-reason` set to `reason`.
    func deadLetter(_ delivery: TransportDelivery, reason: String) async throws

    /// Stops this endpoint; deliveries it did not settle are delivered again to others.
    func close() async throws

    /// How many messages of `destination` wait to be delivered now, and how many receivers hold
    /// unsettled where the transport can tell; a destination never used has none.
    func backlog(of destination: String) async throws -> TransportBacklog
}

/// What a destination holds: messages ready to be delivered, and those received and not yet
/// settled (where the transport can tell: RabbitMQ cannot).
public struct TransportBacklog: Sendable, Hashable, Codable {
    /// Messages ready to be delivered now (a returned one waiting out its delay is not).
    public var waiting: Int
    /// Messages held by receivers, not yet settled; `nil` where the transport cannot tell.
    public var inFlight: Int?
    /// Since when the oldest waiting message waits, where the transport can tell: how far its
    /// consumers are behind.
    public var oldestWaiting: Date?

    /// A backlog.
    public init(waiting: Int, inFlight: Int?, oldestWaiting: Date? = nil) {
        self.waiting = waiting
        self.inFlight = inFlight
        self.oldestWaiting = oldestWaiting
    }
}

extension Transport {
    public func acknowledge(_ deliveries: [TransportDelivery]) async throws {
        var stale: (any Error)?
        for delivery in deliveries {
            do {
                try await acknowledge(delivery)
            } catch let error as SpoolError where error.code == .invalidState {
                stale = stale ?? error
            }
        }
        if let stale { throw stale }
    }

    /// Where dead letters of `destination` go: `<destination>.dead`.
    public func deadLetterDestination(for destination: String) -> String { destination + ".dead" }

    /// Publishes one message.
    public func publish(_ message: TransportMessage, to destination: String) async throws {
        try await publish([message], to: destination)
    }
}

/// The header that names why a message was dead-lettered.
public let deadLetterReasonHeader = "x-dead-letter-reason"

/// The header that names a message's ordering keys: a JSON array of strings. A transport that
/// orders by key (the table queue) delivers a message only once no earlier message of its
/// destination that shares a key is left (acknowledged or dead-lettered), so messages sharing a
/// key are handled one at a time, in publish order, however many receivers take from the
/// destination.
public let orderKeysHeader = "x-spool-order-keys"

/// The ordering keys `headers` name in ``orderKeysHeader``; none when absent or malformed.
public func orderKeys(_ headers: [String: String]) -> [String] {
    guard let text = headers[orderKeysHeader], case .array(let items)? = try? JSONValue.parse(text) else { return [] }
    var keys: [String] = []
    keys.reserveCapacity(items.count)
    for item in items {
        guard case .string(let key) = item else { return [] }
        keys.append(key)
    }
    return keys
}

extension TransportMessage {
    /// `headers` as the table queues store them: a JSON object, keys sorted.
    public static func headersJSON(_ headers: [String: String]) -> String {
        var writer = JSONWriter(capacity: 32 + headers.count * 48)
        writer.object { writer in
            for name in headers.keys.sorted() {
                writer.member(name)
                writer.string(headers[name]!)
            }
        }
        return writer.text
    }

    /// Headers read back from ``headersJSON(_:)``; members that are not strings are left out,
    /// and a text that is not an object gives none.
    public static func headers(json text: String) -> [String: String] {
        guard case .object(let members)? = try? JSONValue.parse(text) else { return [:] }
        return members.compactMapValues(\.string)
    }
}
