import AMQPClient
import NIOCore
import SpoolCore

extension AMQPRPCDaemon {
    /// Answers one request (or dead-letters it) and acknowledges it; never throws, never traps.
    func answer(_ delivery: AMQPDelivery, on channel: AMQPChannel) async {
        do {
            switch Self.route(delivery) {
            case .deadLetter(let reason): try await deadLetter(delivery, reason: reason, on: channel)
            case .reply(let uuid, let replyTo): try await reply(to: delivery, uuid: uuid, replyTo: replyTo, on: channel)
            }
            try await channel.ack(delivery)
        } catch {
            logger.error("RPC request not settled; the broker will deliver it again", metadata: [
                "queue": "\(configuration.inputQueue)", "delivery-tag": "\(delivery.deliveryTag)",
                "error": "\(error)",
            ])
        }
    }

    /// Where a request goes: answered to its `reply_to`, or to the dead-letter queue with a reason.
    enum Route: Equatable {
        case reply(uuid: String, replyTo: String)
        case deadLetter(reason: String)
    }

    /// Routes a request by its `UUID` header and `reply_to`.
    static func route(_ delivery: AMQPDelivery) -> Route {
        guard let header = delivery.headers[AMQPRPCHeader.uuid] else { return .deadLetter(reason: "the request has no UUID header") }
        guard let uuid = header.stringValue, !uuid.isEmpty else {
            return .deadLetter(reason: "the UUID header is not a non-empty UTF-8 string")
        }
        guard let replyTo = delivery.properties.replyTo, !replyTo.isEmpty else {
            return .deadLetter(reason: "the request has no reply_to")
        }
        return .reply(uuid: uuid, replyTo: replyTo)
    }

    /// Publishes the request unchanged to the dead-letter queue, with the reason in a header.
    private func deadLetter(_ delivery: AMQPDelivery, reason: String, on channel: AMQPChannel) async throws {
        var properties = delivery.properties
        var headers = delivery.headers
        headers[AMQPRPCHeader.deadLetterReason] = .string(reason)
        properties.headers = headers
        properties.deliveryMode = 2
        try await channel.publish(delivery.body, routingKey: configuration.deadLetterQueue, properties: properties)
        logger.warning("RPC request dead-lettered", metadata: [
            "queue": "\(configuration.inputQueue)", "dead-letter-queue": "\(configuration.deadLetterQueue)",
            "reason": "\(reason)", "type": "\(delivery.properties.type ?? "-")",
        ])
    }

    /// Runs the request's handler and publishes its result, or the error, to `replyTo`.
    private func reply(to delivery: AMQPDelivery, uuid: String, replyTo: String, on channel: AMQPChannel) async throws {
        var headers: AMQPTable = [AMQPRPCHeader.uuid: .string(uuid)]
        var body = JSONPayload.null
        do {
            body = try await handle(delivery, uuid: uuid)
        } catch {
            for entry in AMQPRPCRemoteError.headers(reporting: error) { headers[entry.key] = entry.value }
            logger.info("RPC request failed", metadata: [
                "uuid": "\(uuid)", "type": "\(delivery.properties.type ?? "-")", "error": "\(error)",
            ])
        }
        let properties = AMQPBasicProperties(contentType: "application/json", headers: headers,
                                             correlationID: delivery.properties.correlationID)
        try await channel.publish(body.messageBody, routingKey: replyTo, properties: properties)
    }

    /// Finds the handler for the request's type and runs it on the request's JSON body.
    private func handle(_ delivery: AMQPDelivery, uuid: String) async throws -> JSONPayload {
        guard let type = delivery.properties.type.flatMap({ $0.isEmpty ? nil : $0 })
            ?? delivery.headers.text(AMQPRPCHeader.type) else {
            throw AMQPRPCError(.unknownRequestType, "the request names no type (AMQP type property or type header)")
        }
        guard let handler = handlers.handler(for: type) else {
            throw AMQPRPCError(.unknownRequestType, "no handler for request type '\(type)'")
        }
        let body: JSONPayload
        do {
            body = try JSONPayload(messageBody: delivery.body)
        } catch {
            throw AMQPRPCError(.invalidRequest, "the body of \(type) is not JSON: \(error)")
        }
        return try await handler(AMQPRPCRequest(type: type, uuid: uuid, body: body, headers: delivery.headers))
    }
}
