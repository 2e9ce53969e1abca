import AMQPClient
import NIOCore
import SpoolCore

/// How ``AMQPTransport`` carries a ``TransportMessage`` in an AMQP message, and reads one back.
///
/// The message id travels as the `message_id` property, each header as a long-string entry of
/// the `headers` table, the body as the content; every message is persistent (delivery mode 2).
/// The header `x-spool-delivery-count` holds how many times the message was delivered before it
/// was returned for retry; it is not among the headers a receiver sees.
enum AMQPTransportEnvelope {
    /// The header that carries the deliveries before the latest retry.
    static let deliveryCountHeader = "x-spool-delivery-count"

    /// The AMQP message for `message` going to `queue`, counting `previousDeliveries`.
    static func outgoing(_ message: TransportMessage, to queue: String, previousDeliveries: Int = 0) -> AMQPOutgoingMessage {
        var headers = AMQPTable(message.headers.sorted { $0.key < $1.key }.map { AMQPTable.Entry(key: $0.key, value: .string($0.value)) })
        if previousDeliveries > 0 { headers[deliveryCountHeader] = .int64(Int64(previousDeliveries)) }
        var properties = AMQPBasicProperties.persistent
        properties.messageID = message.id
        if !headers.isEmpty { properties.headers = headers }
        return AMQPOutgoingMessage(body: ByteBuffer(bytes: message.body), routingKey: queue, properties: properties)
    }

    /// The message a delivery carries and how many times it has been delivered, this time included.
    ///
    /// Header values that are not UTF-8 long strings (such as RabbitMQ's `x-death`) and the
    /// broker's `x-first-death-*` and `x-last-death-*` bookkeeping are left out. A message the
    /// broker redelivered (its receiver died, or a connection broke) counts one more delivery than
    /// its header says; a message redelivered several times that way still counts only one.
    static func incoming(_ delivery: AMQPDelivery) -> (message: TransportMessage, deliveryCount: Int) {
        var headers: [String: String] = [:]
        var previous = 0
        for entry in delivery.headers {
            if entry.key == deliveryCountHeader {
                previous = count(entry.value)
            } else if !entry.key.hasPrefix("x-first-death-"), !entry.key.hasPrefix("x-last-death-"),
                      let text = entry.value.stringValue {
                headers[entry.key] = text
            }
        }
        let message = TransportMessage(id: delivery.properties.messageID ?? "", headers: headers,
                                       body: Array(delivery.body.readableBytesView))
        return (message, previous + 1 + (delivery.redelivered ? 1 : 0))
    }

    private static func count(_ value: AMQPFieldValue) -> Int {
        let number: Int64? = switch value {
        case .int8(let n): Int64(n)
        case .uint8(let n): Int64(n)
        case .int16(let n): Int64(n)
        case .uint16(let n): Int64(n)
        case .int32(let n): Int64(n)
        case .uint32(let n): Int64(n)
        case .int64(let n): n
        default: value.stringValue.flatMap { Int64($0) }
        }
        return Int(clamping: max(0, min(number ?? 0, Int64(Int32.max))))
    }
}

/// A retry delay as ``AMQPTransport`` schedules it: the message waits in a durable queue
/// `<destination>.delay.<milliseconds>` whose messages expire after that many milliseconds and
/// are dead-lettered by the broker, through the default exchange, back to the destination.
///
/// Delays are rounded up so that a destination needs few delay queues: below 16 ms to the
/// millisecond, above to four significant bits (at most an eighth later than asked). A delay
/// queue deletes itself ten minutes after its last message expired.
struct RetryDelay: Equatable {
    /// The longest delay: 30 days.
    static let maximumMilliseconds: Int64 = 30 * 86_400_000
    /// How long an unused delay queue outlives its delay.
    static let expiryMargin: Int64 = 600_000

    /// The rounded delay in milliseconds.
    let milliseconds: Int64

    /// The delay for `duration`, rounded up; a delay of 30 days or more is refused.
    init(_ duration: Duration) throws {
        let (seconds, attoseconds) = duration.components
        let tooLong = SpoolError(.invalidArgument, "a retry delay of \(duration) is longer than the AMQP transport's 30 days")
        guard seconds <= Self.maximumMilliseconds / 1000 else { throw tooLong }
        let exact = max(seconds, -1) * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        guard exact <= Self.maximumMilliseconds else { throw tooLong }
        self.init(milliseconds: exact)
    }

    /// The delay for `exact` milliseconds, rounded up.
    init(milliseconds exact: Int64) {
        guard exact > 16 else {
            milliseconds = max(0, exact)
            return
        }
        let unit = Int64(1) << (64 - exact.leadingZeroBitCount - 4)
        milliseconds = (exact + unit - 1) / unit * unit
    }

    /// The delay queue for `destination`.
    func queue(for destination: String) -> String { "\(destination).delay.\(milliseconds)" }

    /// The delay queue's arguments: the message TTL, dead-lettering to `destination`, and expiry.
    func arguments(for destination: String) -> AMQPTable {
        [
            "x-message-ttl": .int64(milliseconds),
            "x-dead-letter-exchange": .string(""),
            "x-dead-letter-routing-key": .string(destination),
            "x-expires": .int64(milliseconds + Self.expiryMargin),
        ]
    }
}
