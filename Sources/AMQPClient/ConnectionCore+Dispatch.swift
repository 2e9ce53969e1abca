import NIOCore

extension ConnectionCore {
    /// Routes a method without content from the broker: confirms, consumer cancellation, replies.
    func dispatch(_ method: Method, on channel: UInt16) {
        guard let record = records[channel] else { return }
        switch method {
        case .basicAck(let tag, let multiple):
            for pending in record.confirms.settle(tag: tag, multiple: multiple) { pending.promise.succeed() }
        case .basicNack(let tag, let multiple, _):
            for pending in record.confirms.settle(tag: tag, multiple: multiple) {
                pending.promise.fail(AMQPError(.publishNacked, "the broker did not accept the message"))
            }
        case .basicCancel(let consumerTag, let noWait):
            record.consumers.removeValue(forKey: consumerTag)?.continuation.finish(
                throwing: AMQPError(.consumerCancelled, "the broker cancelled consumer \(consumerTag)"))
            if !noWait, let actions = try? machine.send(.basicCancelOk(consumerTag: consumerTag), on: channel) {
                execute(actions)
            }
        default:
            guard let reply = record.pendingReplies.popFirst() else {
                logger.debug("unexpected method from the broker", metadata: ["method": "\(method.ids)"])
                return
            }
            reply.succeed(.method(method))
        }
    }

    /// Routes a method with content: a delivery to its consumer, `get-ok` to the waiting `basic.get`.
    func dispatchContent(_ method: Method, _ properties: AMQPBasicProperties, _ body: ByteBuffer, on channel: UInt16) {
        guard let record = records[channel] else { return }
        switch method {
        case .basicDeliver(let deliver):
            let delivery = AMQPDelivery(
                body: body, properties: properties, deliveryTag: deliver.deliveryTag, redelivered: deliver.redelivered,
                exchange: deliver.exchange, routingKey: deliver.routingKey, consumerTag: deliver.consumerTag,
                channelID: channel, generation: generation)
            record.consumers[deliver.consumerTag]?.continuation.yield(delivery)
        case .basicGetOk:
            record.pendingReplies.popFirst()?.succeed(.content(method, properties, body))
        case .basicReturn(let returned):
            let message = AMQPReturnedMessage(replyCode: returned.replyCode, replyText: returned.replyText, exchange: returned.exchange,
                                              routingKey: returned.routingKey, properties: properties, body: body)
            if let returns = record.returns {
                returns.yield(message)
            } else {
                logger.info("a returned message was dropped: nobody asked for the channel's returns", metadata: [
                    "exchange": "\(returned.exchange)", "routing-key": "\(returned.routingKey)", "reason": "\(returned.replyText)",
                ])
            }
        default:
            logger.debug("unexpected content from the broker", metadata: ["method": "\(method.ids)"])
        }
    }
}
