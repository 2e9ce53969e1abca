@testable import AMQPClient
import NIOCore

/// Shared inputs of the codec and state machine tests.
enum CodecFixtures {
    /// One value of every field type RabbitMQ uses, nested tables and arrays included.
    static let everyFieldType: AMQPTable = [
        "bool": .boolean(true), "int8": .int8(-128), "uint8": .uint8(255), "int16": .int16(-32768),
        "uint16": .uint16(65535), "int32": .int32(Int32.min), "uint32": .uint32(UInt32.max),
        "int64": .int64(Int64.min), "float": .float(-0.5), "double": .double(1e300),
        "decimal": .decimal(scale: 3, value: 1_234_567), "string": .string("héllo"),
        "array": .array([.int8(1), .string("x"), .array([]), .table(["k": .void])]),
        "timestamp": .timestamp(1_700_000_000), "table": .table(["inner": .table(["deep": .boolean(false)])]),
        "void": .void, "bytes": .bytes([0, 0xCE, 0xFF]),
    ]

    /// One sample of every method the client knows, with non-default arguments.
    static let everyMethod: [Method] = [
        .connectionStart(.init(serverProperties: ["product": .string("RabbitMQ")], mechanisms: "AMQPLAIN PLAIN",
                               locales: "en_US")),
        .connectionStartOk(.init(clientProperties: ["capabilities": .table(["basic.nack": .boolean(true)])],
                                 mechanism: "PLAIN", response: [0, 117, 0, 112], locale: "en_US")),
        .connectionTune(.init(channelMax: 2047, frameMax: 131_072, heartbeat: 60)),
        .connectionTuneOk(.init(channelMax: 100, frameMax: 4096, heartbeat: 10)),
        .connectionOpen(virtualHost: "/prod"), .connectionOpenOk,
        .connectionClose(.init(replyCode: 320, replyText: "CONNECTION_FORCED", classID: 10, methodID: 40)),
        .connectionCloseOk, .connectionBlocked(reason: "low on memory"), .connectionUnblocked,
        .channelOpen, .channelOpenOk, .channelFlow(active: true), .channelFlowOk(active: false),
        .channelClose(.init(replyCode: 404, replyText: "NOT_FOUND - no queue", classID: 50, methodID: 10)),
        .channelCloseOk,
        .exchangeDeclare(.init(exchange: "events", type: "topic", passive: false, durable: true, autoDelete: true,
                               internal: false, noWait: true, arguments: ["alternate-exchange": .string("ae")])),
        .exchangeDeclareOk, .exchangeDelete(.init(exchange: "events", ifUnused: true, noWait: false)),
        .exchangeDeleteOk,
        .exchangeBind(.init(destination: "d", source: "s", routingKey: "a.*", noWait: true, arguments: ["x": .int8(1)])),
        .exchangeBindOk, .exchangeUnbind(.init(destination: "d", source: "s", routingKey: "a.*")), .exchangeUnbindOk,
        .queueDeclare(.init(queue: "jobs", passive: true, durable: false, exclusive: true, autoDelete: false,
                            noWait: true, arguments: ["x-max-length": .int32(10)])),
        .queueDeclareOk(.init(queue: "jobs", messageCount: 5, consumerCount: 1)),
        .queueBind(.init(destination: "jobs", source: "events", routingKey: "jobs.#", noWait: true)), .queueBindOk,
        .queuePurge(queue: "jobs", noWait: true), .queuePurgeOk(messageCount: 7),
        .queueDelete(.init(queue: "jobs", ifUnused: false, ifEmpty: true, noWait: true)), .queueDeleteOk(messageCount: 3),
        .queueUnbind(.init(destination: "jobs", source: "events", routingKey: "jobs.#", arguments: ["a": .void])),
        .queueUnbindOk,
        .basicQos(prefetchSize: 0, prefetchCount: 10, global: true), .basicQosOk,
        .basicConsume(.init(queue: "jobs", consumerTag: "c1", noLocal: true, noAck: false, exclusive: true,
                            noWait: false, arguments: ["x-priority": .int32(5)])),
        .basicConsumeOk(consumerTag: "c1"), .basicCancel(consumerTag: "c1", noWait: true),
        .basicCancelOk(consumerTag: "c1"),
        .basicPublish(.init(exchange: "events", routingKey: "jobs.new", mandatory: true, immediate: false)),
        .basicReturn(.init(replyCode: 312, replyText: "NO_ROUTE", exchange: "events", routingKey: "nowhere")),
        .basicDeliver(.init(consumerTag: "c1", deliveryTag: UInt64.max, redelivered: true, exchange: "events",
                            routingKey: "jobs.new")),
        .basicGet(queue: "jobs", noAck: true),
        .basicGetOk(.init(deliveryTag: 9, redelivered: false, exchange: "", routingKey: "jobs", messageCount: 2)),
        .basicGetEmpty, .basicAck(deliveryTag: 42, multiple: true), .basicReject(deliveryTag: 43, requeue: false),
        .basicRecover(requeue: true), .basicRecoverOk, .basicNack(deliveryTag: 44, multiple: true, requeue: true),
        .confirmSelect(noWait: false), .confirmSelectOk,
    ]

    /// Properties with all 14 fields set.
    static let everyProperty = AMQPBasicProperties(
        contentType: "application/json", contentEncoding: "gzip", headers: ["uuid": .string("abc")],
        deliveryMode: 2, priority: 9, correlationID: "corr", replyTo: "replies", expiration: "60000",
        messageID: "msg-1", timestamp: 1_700_000_000, type: "job.created", userID: "guest", appID: "spool",
        clusterID: "cluster")

    static func encoded(_ frames: Frame...) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        for frame in frames { try frame.encode(into: &buffer) }
        return buffer
    }

    static func payload(of method: Method) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try method.encode(into: &buffer)
        return buffer
    }
}
