import NIOCore

extension Method {
    /// Decodes a method frame's payload: class id, method id, arguments.
    ///
    /// Throws ``AMQPError/Code-swift.struct/frameError`` for truncated or malformed input and for
    /// methods this client does not know; never traps.
    static func decode(_ payload: ByteBuffer) throws(AMQPError) -> Method {
        var fields = MethodFieldReader(payload)
        let classID = try fields.short()
        let methodID = try fields.short()
        switch classID {
        case 10: return try decodeConnection(methodID, &fields)
        case 20: return try decodeChannel(methodID, &fields)
        case 40: return try decodeExchange(methodID, &fields)
        case 50: return try decodeQueue(methodID, &fields)
        case 60: return try decodeBasic(methodID, &fields)
        case 85:
            switch methodID {
            case 10: return .confirmSelect(noWait: try fields.bit())
            case 11: return .confirmSelectOk
            default: break
            }
        default: break
        }
        throw unknown(classID, methodID)
    }

    private static func unknown(_ classID: UInt16, _ methodID: UInt16) -> AMQPError {
        AMQPError(.frameError, "unknown method \(classID).\(methodID)")
    }

    private static func decodeConnection(_ id: UInt16, _ f: inout MethodFieldReader) throws(AMQPError) -> Method {
        switch id {
        case 10:
            return .connectionStart(ConnectionStart(
                versionMajor: try f.octet(), versionMinor: try f.octet(), serverProperties: try f.table(),
                mechanisms: String(decoding: try f.longString(), as: UTF8.self),
                locales: String(decoding: try f.longString(), as: UTF8.self)))
        case 11:
            return .connectionStartOk(ConnectionStartOk(
                clientProperties: try f.table(), mechanism: try f.shortString(), response: try f.longString(),
                locale: try f.shortString()))
        case 30: return .connectionTune(Tuning(channelMax: try f.short(), frameMax: try f.long(), heartbeat: try f.short()))
        case 31: return .connectionTuneOk(Tuning(channelMax: try f.short(), frameMax: try f.long(), heartbeat: try f.short()))
        case 40:
            let virtualHost = try f.shortString()
            _ = try f.shortString()
            _ = try f.bit()
            return .connectionOpen(virtualHost: virtualHost)
        case 41:
            _ = try f.shortString()
            return .connectionOpenOk
        case 50: return .connectionClose(try decodeClose(&f))
        case 51: return .connectionCloseOk
        case 60: return .connectionBlocked(reason: try f.shortString())
        case 61: return .connectionUnblocked
        default: throw unknown(10, id)
        }
    }

    private static func decodeClose(_ f: inout MethodFieldReader) throws(AMQPError) -> Close {
        Close(replyCode: try f.short(), replyText: try f.shortString(), classID: try f.short(), methodID: try f.short())
    }

    private static func decodeChannel(_ id: UInt16, _ f: inout MethodFieldReader) throws(AMQPError) -> Method {
        switch id {
        case 10:
            _ = try f.shortString()
            return .channelOpen
        case 11:
            _ = try f.longString()
            return .channelOpenOk
        case 20: return .channelFlow(active: try f.bit())
        case 21: return .channelFlowOk(active: try f.bit())
        case 40: return .channelClose(try decodeClose(&f))
        case 41: return .channelCloseOk
        default: throw unknown(20, id)
        }
    }

    private static func decodeExchange(_ id: UInt16, _ f: inout MethodFieldReader) throws(AMQPError) -> Method {
        switch id {
        case 10:
            _ = try f.short()
            return .exchangeDeclare(ExchangeDeclare(
                exchange: try f.shortString(), type: try f.shortString(), passive: try f.bit(), durable: try f.bit(),
                autoDelete: try f.bit(), internal: try f.bit(), noWait: try f.bit(), arguments: try f.table()))
        case 11: return .exchangeDeclareOk
        case 20:
            _ = try f.short()
            return .exchangeDelete(ExchangeDelete(exchange: try f.shortString(), ifUnused: try f.bit(), noWait: try f.bit()))
        case 21: return .exchangeDeleteOk
        case 30: return .exchangeBind(try decodeBinding(&f, hasNoWait: true))
        case 31: return .exchangeBindOk
        case 40: return .exchangeUnbind(try decodeBinding(&f, hasNoWait: true))
        case 51: return .exchangeUnbindOk
        default: throw unknown(40, id)
        }
    }

    private static func decodeBinding(_ f: inout MethodFieldReader, hasNoWait: Bool) throws(AMQPError) -> Binding {
        _ = try f.short()
        let destination = try f.shortString()
        let source = try f.shortString()
        let routingKey = try f.shortString()
        let noWait = hasNoWait ? try f.bit() : false
        return Binding(destination: destination, source: source, routingKey: routingKey, noWait: noWait,
                       arguments: try f.table())
    }

    private static func decodeQueue(_ id: UInt16, _ f: inout MethodFieldReader) throws(AMQPError) -> Method {
        switch id {
        case 10:
            _ = try f.short()
            return .queueDeclare(QueueDeclare(
                queue: try f.shortString(), passive: try f.bit(), durable: try f.bit(), exclusive: try f.bit(),
                autoDelete: try f.bit(), noWait: try f.bit(), arguments: try f.table()))
        case 11:
            return .queueDeclareOk(QueueDeclareOk(queue: try f.shortString(), messageCount: try f.long(),
                                                  consumerCount: try f.long()))
        case 20: return .queueBind(try decodeBinding(&f, hasNoWait: true))
        case 21: return .queueBindOk
        case 30:
            _ = try f.short()
            return .queuePurge(queue: try f.shortString(), noWait: try f.bit())
        case 31: return .queuePurgeOk(messageCount: try f.long())
        case 40:
            _ = try f.short()
            return .queueDelete(QueueDelete(queue: try f.shortString(), ifUnused: try f.bit(), ifEmpty: try f.bit(),
                                            noWait: try f.bit()))
        case 41: return .queueDeleteOk(messageCount: try f.long())
        case 50: return .queueUnbind(try decodeBinding(&f, hasNoWait: false))
        case 51: return .queueUnbindOk
        default: throw unknown(50, id)
        }
    }

    private static func decodeBasic(_ id: UInt16, _ f: inout MethodFieldReader) throws(AMQPError) -> Method {
        switch id {
        case 10: return .basicQos(prefetchSize: try f.long(), prefetchCount: try f.short(), global: try f.bit())
        case 11: return .basicQosOk
        case 20:
            _ = try f.short()
            return .basicConsume(Consume(
                queue: try f.shortString(), consumerTag: try f.shortString(), noLocal: try f.bit(), noAck: try f.bit(),
                exclusive: try f.bit(), noWait: try f.bit(), arguments: try f.table()))
        case 21: return .basicConsumeOk(consumerTag: try f.shortString())
        case 30: return .basicCancel(consumerTag: try f.shortString(), noWait: try f.bit())
        case 31: return .basicCancelOk(consumerTag: try f.shortString())
        case 40:
            _ = try f.short()
            return .basicPublish(Publish(exchange: try f.shortString(), routingKey: try f.shortString(),
                                         mandatory: try f.bit(), immediate: try f.bit()))
        case 50:
            return .basicReturn(Return(replyCode: try f.short(), replyText: try f.shortString(),
                                       exchange: try f.shortString(), routingKey: try f.shortString()))
        case 60:
            return .basicDeliver(Deliver(consumerTag: try f.shortString(), deliveryTag: try f.longLong(),
                                         redelivered: try f.bit(), exchange: try f.shortString(),
                                         routingKey: try f.shortString()))
        case 70:
            _ = try f.short()
            return .basicGet(queue: try f.shortString(), noAck: try f.bit())
        case 71:
            return .basicGetOk(GetOk(deliveryTag: try f.longLong(), redelivered: try f.bit(), exchange: try f.shortString(),
                                     routingKey: try f.shortString(), messageCount: try f.long()))
        case 72:
            _ = try f.shortString()
            return .basicGetEmpty
        case 80: return .basicAck(deliveryTag: try f.longLong(), multiple: try f.bit())
        case 90: return .basicReject(deliveryTag: try f.longLong(), requeue: try f.bit())
        case 110: return .basicRecover(requeue: try f.bit())
        case 111: return .basicRecoverOk
        case 120: return .basicNack(deliveryTag: try f.longLong(), multiple: try f.bit(), requeue: try f.bit())
        default: throw unknown(60, id)
        }
    }
}
