import NIOCore

extension Method {
    /// The class and method ids of the specification.
    var ids: (classID: UInt16, methodID: UInt16) {
        switch self {
        case .connectionStart: (10, 10)
        case .connectionStartOk: (10, 11)
        case .connectionTune: (10, 30)
        case .connectionTuneOk: (10, 31)
        case .connectionOpen: (10, 40)
        case .connectionOpenOk: (10, 41)
        case .connectionClose: (10, 50)
        case .connectionCloseOk: (10, 51)
        case .connectionBlocked: (10, 60)
        case .connectionUnblocked: (10, 61)
        case .channelOpen: (20, 10)
        case .channelOpenOk: (20, 11)
        case .channelFlow: (20, 20)
        case .channelFlowOk: (20, 21)
        case .channelClose: (20, 40)
        case .channelCloseOk: (20, 41)
        case .exchangeDeclare: (40, 10)
        case .exchangeDeclareOk: (40, 11)
        case .exchangeDelete: (40, 20)
        case .exchangeDeleteOk: (40, 21)
        case .exchangeBind: (40, 30)
        case .exchangeBindOk: (40, 31)
        case .exchangeUnbind: (40, 40)
        case .exchangeUnbindOk: (40, 51)
        case .queueDeclare: (50, 10)
        case .queueDeclareOk: (50, 11)
        case .queueBind: (50, 20)
        case .queueBindOk: (50, 21)
        case .queuePurge: (50, 30)
        case .queuePurgeOk: (50, 31)
        case .queueDelete: (50, 40)
        case .queueDeleteOk: (50, 41)
        case .queueUnbind: (50, 50)
        case .queueUnbindOk: (50, 51)
        case .basicQos: (60, 10)
        case .basicQosOk: (60, 11)
        case .basicConsume: (60, 20)
        case .basicConsumeOk: (60, 21)
        case .basicCancel: (60, 30)
        case .basicCancelOk: (60, 31)
        case .basicPublish: (60, 40)
        case .basicReturn: (60, 50)
        case .basicDeliver: (60, 60)
        case .basicGet: (60, 70)
        case .basicGetOk: (60, 71)
        case .basicGetEmpty: (60, 72)
        case .basicAck: (60, 80)
        case .basicReject: (60, 90)
        case .basicRecover: (60, 110)
        case .basicRecoverOk: (60, 111)
        case .basicNack: (60, 120)
        case .confirmSelect: (85, 10)
        case .confirmSelectOk: (85, 11)
        }
    }

    /// Appends the method's class id, method id and arguments to `buffer`.
    ///
    /// Throws ``AMQPError/Code-swift.struct/invalidArgument`` when a short string is too long.
    func encode(into buffer: inout ByteBuffer) throws(AMQPError) {
        var f = MethodFieldWriter(buffer)
        defer { buffer = f.buffer }
        f.short(ids.classID)
        f.short(ids.methodID)
        switch self {
        case .connectionStart(let m):
            f.octet(m.versionMajor)
            f.octet(m.versionMinor)
            try f.table(m.serverProperties)
            f.longString(Array(m.mechanisms.utf8))
            f.longString(Array(m.locales.utf8))
        case .connectionStartOk(let m):
            try f.table(m.clientProperties)
            try f.shortString(m.mechanism)
            f.longString(m.response)
            try f.shortString(m.locale)
        case .connectionTune(let m), .connectionTuneOk(let m):
            f.short(m.channelMax)
            f.long(m.frameMax)
            f.short(m.heartbeat)
        case .connectionOpen(let virtualHost):
            try f.shortString(virtualHost)
            try f.shortString("")
            f.bit(false)
        case .connectionOpenOk: try f.shortString("")
        case .connectionClose(let m), .channelClose(let m):
            f.short(m.replyCode)
            try f.shortString(m.replyText)
            f.short(m.classID)
            f.short(m.methodID)
        case .connectionBlocked(let reason): try f.shortString(reason)
        case .channelOpen: try f.shortString("")
        case .channelOpenOk: f.longString([])
        case .channelFlow(let active), .channelFlowOk(let active): f.bit(active)
        case .exchangeDeclare(let m):
            f.short(0)
            try f.shortString(m.exchange)
            try f.shortString(m.type)
            for flag in [m.passive, m.durable, m.autoDelete, m.internal, m.noWait] { f.bit(flag) }
            try f.table(m.arguments)
        case .exchangeDelete(let m):
            f.short(0)
            try f.shortString(m.exchange)
            f.bit(m.ifUnused)
            f.bit(m.noWait)
        case .exchangeBind(let m), .exchangeUnbind(let m), .queueBind(let m):
            try encodeBinding(m, hasNoWait: true, &f)
        case .queueUnbind(let m):
            try encodeBinding(m, hasNoWait: false, &f)
        case .queueDeclare(let m):
            f.short(0)
            try f.shortString(m.queue)
            for flag in [m.passive, m.durable, m.exclusive, m.autoDelete, m.noWait] { f.bit(flag) }
            try f.table(m.arguments)
        case .queueDeclareOk(let m):
            try f.shortString(m.queue)
            f.long(m.messageCount)
            f.long(m.consumerCount)
        case .queuePurge(let queue, let noWait):
            f.short(0)
            try f.shortString(queue)
            f.bit(noWait)
        case .queuePurgeOk(let count), .queueDeleteOk(let count): f.long(count)
        case .queueDelete(let m):
            f.short(0)
            try f.shortString(m.queue)
            for flag in [m.ifUnused, m.ifEmpty, m.noWait] { f.bit(flag) }
        case .basicQos(let size, let count, let global):
            f.long(size)
            f.short(count)
            f.bit(global)
        case .basicConsume(let m):
            f.short(0)
            try f.shortString(m.queue)
            try f.shortString(m.consumerTag)
            for flag in [m.noLocal, m.noAck, m.exclusive, m.noWait] { f.bit(flag) }
            try f.table(m.arguments)
        case .basicConsumeOk(let tag), .basicCancelOk(let tag): try f.shortString(tag)
        case .basicCancel(let tag, let noWait):
            try f.shortString(tag)
            f.bit(noWait)
        case .basicPublish(let m):
            f.short(0)
            try f.shortString(m.exchange)
            try f.shortString(m.routingKey)
            f.bit(m.mandatory)
            f.bit(m.immediate)
        case .basicReturn(let m):
            f.short(m.replyCode)
            try f.shortString(m.replyText)
            try f.shortString(m.exchange)
            try f.shortString(m.routingKey)
        case .basicDeliver(let m):
            try f.shortString(m.consumerTag)
            f.longLong(m.deliveryTag)
            f.bit(m.redelivered)
            try f.shortString(m.exchange)
            try f.shortString(m.routingKey)
        case .basicGet(let queue, let noAck):
            f.short(0)
            try f.shortString(queue)
            f.bit(noAck)
        case .basicGetOk(let m):
            f.longLong(m.deliveryTag)
            f.bit(m.redelivered)
            try f.shortString(m.exchange)
            try f.shortString(m.routingKey)
            f.long(m.messageCount)
        case .basicGetEmpty: try f.shortString("")
        case .basicAck(let tag, let multiple):
            f.longLong(tag)
            f.bit(multiple)
        case .basicReject(let tag, let requeue):
            f.longLong(tag)
            f.bit(requeue)
        case .basicRecover(let requeue): f.bit(requeue)
        case .basicNack(let tag, let multiple, let requeue):
            f.longLong(tag)
            f.bit(multiple)
            f.bit(requeue)
        case .confirmSelect(let noWait): f.bit(noWait)
        case .connectionCloseOk, .connectionUnblocked, .channelCloseOk, .exchangeDeclareOk,
             .exchangeDeleteOk, .exchangeBindOk, .exchangeUnbindOk, .queueBindOk, .queueUnbindOk, .basicQosOk,
             .basicRecoverOk, .confirmSelectOk:
            break
        }
    }

    private func encodeBinding(_ m: Binding, hasNoWait: Bool, _ f: inout MethodFieldWriter) throws(AMQPError) {
        f.short(0)
        try f.shortString(m.destination)
        try f.shortString(m.source)
        try f.shortString(m.routingKey)
        if hasNoWait { f.bit(m.noWait) }
        try f.table(m.arguments)
    }
}
