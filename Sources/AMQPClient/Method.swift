/// An AMQP 0-9-1 method: the class and method ids of the specification with their arguments.
///
/// Reserved arguments (tickets, `out-of-band`, `known-hosts`, `insist`, `cluster-id`) are written
/// as their fixed values and skipped when read.
enum Method: Hashable, Sendable {
    // connection (class 10)
    case connectionStart(ConnectionStart)
    case connectionStartOk(ConnectionStartOk)
    case connectionTune(Tuning)
    case connectionTuneOk(Tuning)
    case connectionOpen(virtualHost: String)
    case connectionOpenOk
    case connectionClose(Close)
    case connectionCloseOk
    case connectionBlocked(reason: String)
    case connectionUnblocked
    // channel (class 20)
    case channelOpen
    case channelOpenOk
    case channelFlow(active: Bool)
    case channelFlowOk(active: Bool)
    case channelClose(Close)
    case channelCloseOk
    // exchange (class 40)
    case exchangeDeclare(ExchangeDeclare)
    case exchangeDeclareOk
    case exchangeDelete(ExchangeDelete)
    case exchangeDeleteOk
    case exchangeBind(Binding)
    case exchangeBindOk
    case exchangeUnbind(Binding)
    case exchangeUnbindOk
    // queue (class 50)
    case queueDeclare(QueueDeclare)
    case queueDeclareOk(QueueDeclareOk)
    case queueBind(Binding)
    case queueBindOk
    case queuePurge(queue: String, noWait: Bool)
    case queuePurgeOk(messageCount: UInt32)
    case queueDelete(QueueDelete)
    case queueDeleteOk(messageCount: UInt32)
    case queueUnbind(Binding)
    case queueUnbindOk
    // basic (class 60)
    case basicQos(prefetchSize: UInt32, prefetchCount: UInt16, global: Bool)
    case basicQosOk
    case basicConsume(Consume)
    case basicConsumeOk(consumerTag: String)
    case basicCancel(consumerTag: String, noWait: Bool)
    case basicCancelOk(consumerTag: String)
    case basicPublish(Publish)
    case basicReturn(Return)
    case basicDeliver(Deliver)
    case basicGet(queue: String, noAck: Bool)
    case basicGetOk(GetOk)
    case basicGetEmpty
    case basicAck(deliveryTag: UInt64, multiple: Bool)
    case basicReject(deliveryTag: UInt64, requeue: Bool)
    case basicRecover(requeue: Bool)
    case basicRecoverOk
    case basicNack(deliveryTag: UInt64, multiple: Bool, requeue: Bool)
    // confirm (class 85)
    case confirmSelect(noWait: Bool)
    case confirmSelectOk

    struct ConnectionStart: Hashable, Sendable {
        var versionMajor: UInt8 = 0
        var versionMinor: UInt8 = 9
        var serverProperties: AMQPTable
        var mechanisms: String
        var locales: String
    }

    struct ConnectionStartOk: Hashable, Sendable {
        var clientProperties: AMQPTable
        var mechanism: String
        var response: [UInt8]
        var locale: String
    }

    /// The limits of `connection.tune` and `connection.tune-ok`; `0` means "no limit" (no heartbeat).
    struct Tuning: Hashable, Sendable {
        var channelMax: UInt16
        var frameMax: UInt32
        var heartbeat: UInt16
    }

    /// The arguments of `connection.close` and `channel.close`.
    struct Close: Hashable, Sendable {
        var replyCode: UInt16
        var replyText: String
        var classID: UInt16 = 0
        var methodID: UInt16 = 0
    }

    struct ExchangeDeclare: Hashable, Sendable {
        var exchange: String
        var type: String
        var passive = false
        var durable = false
        var autoDelete = false
        var `internal` = false
        var noWait = false
        var arguments: AMQPTable = [:]
    }

    struct ExchangeDelete: Hashable, Sendable {
        var exchange: String
        var ifUnused = false
        var noWait = false
    }

    /// The arguments of exchange.bind/unbind (destination exchange) and queue.bind/unbind (queue).
    /// `queue.unbind` has no `no-wait` field; it is ignored there.
    struct Binding: Hashable, Sendable {
        var destination: String
        var source: String
        var routingKey: String
        var noWait = false
        var arguments: AMQPTable = [:]
    }

    struct QueueDeclare: Hashable, Sendable {
        var queue: String
        var passive = false
        var durable = false
        var exclusive = false
        var autoDelete = false
        var noWait = false
        var arguments: AMQPTable = [:]
    }

    struct QueueDeclareOk: Hashable, Sendable {
        var queue: String
        var messageCount: UInt32
        var consumerCount: UInt32
    }

    struct QueueDelete: Hashable, Sendable {
        var queue: String
        var ifUnused = false
        var ifEmpty = false
        var noWait = false
    }

    struct Consume: Hashable, Sendable {
        var queue: String
        var consumerTag: String
        var noLocal = false
        var noAck = false
        var exclusive = false
        var noWait = false
        var arguments: AMQPTable = [:]
    }

    struct Publish: Hashable, Sendable {
        var exchange: String
        var routingKey: String
        var mandatory = false
        var immediate = false
    }

    struct Return: Hashable, Sendable {
        var replyCode: UInt16
        var replyText: String
        var exchange: String
        var routingKey: String
    }

    struct Deliver: Hashable, Sendable {
        var consumerTag: String
        var deliveryTag: UInt64
        var redelivered: Bool
        var exchange: String
        var routingKey: String
    }

    struct GetOk: Hashable, Sendable {
        var deliveryTag: UInt64
        var redelivered: Bool
        var exchange: String
        var routingKey: String
        var messageCount: UInt32
    }

    /// Whether a content header and body frames follow this method.
    var hasContent: Bool {
        switch self {
        case .basicPublish, .basicReturn, .basicDeliver, .basicGetOk: true
        default: false
        }
    }
}
