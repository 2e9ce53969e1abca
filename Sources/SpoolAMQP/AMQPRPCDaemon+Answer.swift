import AMQPClient
import Metrics
import NIOCore
import SpoolCore

extension AMQPRPCDaemon {
    /// Answers one request (or dead-letters it) and acknowledges it; never throws, never traps.
    func answer(_ delivery: AMQPDelivery, on channel: AMQPChannel) async {
        let route = Self.route(delivery, replyExchange: configuration.replyExchange, replyRoutingKey: configuration.replyRoutingKey)
        do {
            switch route {
            case .deadLetter(let reason): try await deadLetter(delivery, reason: reason, on: channel)
            case .reply(let uuid, let exchange, let routingKey):
                if delivery.redelivered, let refused = refusedAnswers.reason(for: uuid) {
                    try await deadLetter(delivery, reason: "answering it made the broker close the connection: \(refused)", on: channel)
                } else {
                    try await reply(to: delivery, uuid: uuid, exchange: exchange, routingKey: routingKey, on: channel)
                }
            }
            try await channel.ack(delivery)
        } catch let error as AMQPError where error.replyCode.map(AMQPError.ReplyCode.refusingWhatWasSent.contains) == true {
            if case .reply(let uuid, _, _) = route { refusedAnswers.remember(uuid, reason: "\(error.replyCode ?? 0) \(error.message)") }
            logger.error("the broker closed the connection refusing the answer to an RPC request; when it delivers the request again it is dead-lettered", metadata: [
                "queue": "\(configuration.inputQueue)", "delivery-tag": "\(delivery.deliveryTag)", "error": "\(error)",
            ])
        } catch {
            logger.error("RPC request not settled; the broker will deliver it again", metadata: [
                "queue": "\(configuration.inputQueue)", "delivery-tag": "\(delivery.deliveryTag)",
                "error": "\(error)",
            ])
        }
    }

    /// Where a request goes: answered (to its `reply_to` through the default exchange, or to the
    /// configured reply exchange), or to the dead-letter queue with a reason.
    enum Route: Equatable {
        case reply(uuid: String, exchange: String, routingKey: String)
        case deadLetter(reason: String)
    }

    /// The longest `UUID` header answered, in bytes: the answer repeats it.
    static let maximumUUIDBytes = 256

    /// Routes a request by its `UUID` header and `reply_to`; without `reply_to` it is answered to
    /// `replyExchange` with `replyRoutingKey` when one is given.
    static func route(_ delivery: AMQPDelivery, replyExchange: String? = nil, replyRoutingKey: String = "") -> Route {
        guard let header = delivery.headers[AMQPRPCHeader.uuid] else { return .deadLetter(reason: "the request has no UUID header") }
        // pika sends a Python `bytes` header as a byte array: taken when it is UTF-8 text.
        var text = header.stringValue
        if text == nil, case .bytes(let bytes) = header { text = String(validating: bytes, as: UTF8.self) }
        guard let uuid = text, !uuid.isEmpty else {
            return .deadLetter(reason: "the UUID header is not a non-empty UTF-8 string")
        }
        guard uuid.utf8.count <= maximumUUIDBytes else {
            return .deadLetter(reason: "the UUID header is \(uuid.utf8.count) bytes; at most \(maximumUUIDBytes) are answered")
        }
        if let replyTo = delivery.properties.replyTo, !replyTo.isEmpty {
            return .reply(uuid: uuid, exchange: "", routingKey: replyTo)
        }
        guard let replyExchange else { return .deadLetter(reason: "the request has no reply_to") }
        return .reply(uuid: uuid, exchange: replyExchange, routingKey: replyRoutingKey)
    }

    /// Logs and counts every reply the broker returns as undeliverable (published `mandatory`,
    /// routed nowhere: its `reply_to` queue is gone, its client left), and dead-letters it when
    /// configured to.
    func report(_ returned: AsyncStream<AMQPReturnedMessage>, on channel: AMQPChannel) async {
        let counter = Counter(label: "spool_amqp_replies_returned_total", dimensions: [("queue", configuration.inputQueue)])
        for await message in returned {
            counter.increment()
            let uuid = message.headers[AMQPRPCHeader.uuid]?.stringValue ?? "-"
            logger.warning("RPC reply undeliverable: the broker returned it", metadata: [
                "uuid": "\(uuid)", "exchange": "\(message.exchange)", "routing-key": "\(message.routingKey)",
                "reason": "\(message.replyCode) \(message.replyText)",
            ])
            guard configuration.deadLetterUndeliverableReplies else { continue }
            var properties = message.properties
            var headers = message.headers
            headers[AMQPRPCHeader.deadLetterReason] = .string(AMQPRPCRemoteError.truncated(
                "the reply could not be delivered to '\(message.routingKey)': \(message.replyCode) \(message.replyText)"))
            properties.headers = headers
            do {
                try await channel.publish(message.body, routingKey: configuration.deadLetterQueue, properties: properties)
            } catch {
                logger.error("undeliverable RPC reply could not be dead-lettered", metadata: ["uuid": "\(uuid)", "error": "\(error)"])
            }
        }
    }

    /// Publishes the request unchanged to the dead-letter queue, with the reason in a header.
    /// When its headers with the reason would not fit one frame, it goes without its own
    /// headers, the reason saying so.
    private func deadLetter(_ delivery: AMQPDelivery, reason: String, on channel: AMQPChannel) async throws {
        var properties = delivery.properties
        var headers = delivery.headers
        headers[AMQPRPCHeader.deadLetterReason] = .string(AMQPRPCRemoteError.truncated(reason))
        properties.headers = headers
        properties.deliveryMode = 2
        var reason = reason
        do {
            try await channel.publish(delivery.body, routingKey: configuration.deadLetterQueue, properties: properties)
        } catch let error as AMQPError where error.code == .frameTooLarge {
            reason += "; its own headers were too large to keep and were dropped"
            properties.headers = [AMQPRPCHeader.deadLetterReason: .string(AMQPRPCRemoteError.truncated(reason))]
            try await channel.publish(delivery.body, routingKey: configuration.deadLetterQueue, properties: properties)
        }
        logger.warning("RPC request dead-lettered", metadata: [
            "queue": "\(configuration.inputQueue)", "dead-letter-queue": "\(configuration.deadLetterQueue)",
            "reason": "\(reason)", "type": "\(delivery.properties.type ?? "-")",
        ])
    }

    /// Runs the request's handler and publishes its result, or the error, to `exchange` with
    /// `routingKey`.
    private func reply(to delivery: AMQPDelivery, uuid: String, exchange: String, routingKey: String,
                       on channel: AMQPChannel) async throws {
        var headers: AMQPTable = [AMQPRPCHeader.uuid: .string(uuid)]
        var body = JSONPayload.null
        do {
            body = try await handle(delivery, uuid: uuid)
        } catch {
            for entry in AMQPRPCRemoteError.headers(reporting: error, style: configuration.exceptionTypeStyle) {
                headers[entry.key] = entry.value
            }
            logger.info("RPC request failed", metadata: [
                "uuid": "\(uuid)", "type": "\(delivery.properties.type ?? "-")", "error": "\(error)",
            ])
        }
        // Persistent, like the request: a reply waiting in a durable queue survives a broker restart.
        let properties = AMQPBasicProperties(contentType: "application/json", headers: headers, deliveryMode: 2,
                                             correlationID: delivery.properties.correlationID)
        do {
            try await channel.publish(body.messageBody, exchange: exchange, routingKey: routingKey, properties: properties, mandatory: true)
        } catch let error as AMQPError where error.code == .frameTooLarge {
            // Only the request's own properties (a long correlation id) can still be too large.
            try await deadLetter(delivery, reason: "its answer would not fit one frame: \(error.message)", on: channel)
        }
    }

    /// Finds the handler for the request's type and runs it on the request's JSON body.
    private func handle(_ delivery: AMQPDelivery, uuid: String) async throws -> JSONPayload {
        let body: JSONPayload
        do {
            body = try JSONPayload(messageBody: delivery.body)
        } catch {
            throw AMQPRPCError(.invalidRequest, "the body of the request is not JSON: \(error)")
        }
        var named = delivery.properties.type.flatMap({ $0.isEmpty ? nil : $0 }) ?? delivery.headers.text(AMQPRPCHeader.type)
        if named == nil, let field = configuration.typeField,
           case .object(let fields)? = try? body.decode(JSONValue.self), case .string(let text)? = fields[field], !text.isEmpty {
            named = text
        }
        guard let type = named else {
            let body = configuration.typeField.map { ", or the body's \($0) field" } ?? ""
            throw AMQPRPCError(.unknownRequestType, "the request names no type (AMQP type property or type header\(body))")
        }
        guard let handler = handlers.handler(for: type) else {
            throw AMQPRPCError(.unknownRequestType, "no handler for request type '\(type.prefix(200))'")
        }
        return try await handler(AMQPRPCRequest(type: type, uuid: uuid, body: body, headers: delivery.headers))
    }
}
