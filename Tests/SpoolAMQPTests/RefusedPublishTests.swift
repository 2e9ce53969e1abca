import AMQPClient
import Logging
import NIOCore
import ServiceLifecycle
import SpoolAMQP
import SpoolCore
import Synchronization
import Testing

/// What the client's recovery and the RPC daemon do with publishes when the broker closes the
/// connection refusing one, against a ``ScriptedBroker`` (RabbitMQ cannot be made to refuse one
/// message on purpose: the client already refuses to send frames larger than frame-max).
@Suite("Publishes across a connection the broker closes", .timeLimit(.minutes(2)))
struct RefusedPublishTests {
    @Test("a publish the broker refuses by closing the connection fails to its caller and is never sent again; what waits for recovery is sent, up to the buffer's limit")
    func refusedPublishIsNotSentAgain() async throws {
        let forcedOnce = Mutex(false)
        let broker = try ScriptedBroker { published in
            switch published.body {
            case "poison": return .closeConnection(501, "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,200000,131064}")
            case "forced":
                let first = forcedOnce.withLock { seen in
                    defer { seen = true }
                    return !seen
                }
                return first ? .closeConnection(320, "CONNECTION_FORCED - closed by an operator") : .confirm
            default: return .confirm
            }
        }
        var configuration = try AMQPConnectionConfiguration(url: "amqp://guest:guest@127.0.0.1:\(broker.port)/%2f")
        configuration.connectTimeout = .seconds(1)
        configuration.recovery = .init(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200), maximumBufferedBytes: 1_000)
        let connection = try await AMQPConnection.connect(configuration: configuration)
        let channel = try await connection.openChannel()
        try await channel.confirmSelect()
        try await channel.publish(ByteBuffer(string: "a"), routingKey: "q")

        broker.holdConnections()
        let refused = await #expect(throws: AMQPError.self) {
            try await channel.publish(ByteBuffer(string: "poison"), routingKey: "q")
        }
        #expect(refused?.code == .connectionClosed && refused?.replyCode == 501, "\(String(describing: refused))")
        #expect(refused?.message.contains("not sent again") == true)

        let waiting = Task { try await channel.publish(ByteBuffer(string: "waits"), routingKey: "q") }
        try await Task.sleep(for: .milliseconds(100))
        let full = await #expect(throws: AMQPError.self) {
            try await channel.publish(ByteBuffer(repeating: UInt8(ascii: "x"), count: 2_000), routingKey: "q")
        }
        #expect(full?.code == .bufferFull, "\(String(describing: full))")
        broker.releaseConnections()
        try await waiting.value

        try await channel.publish(ByteBuffer(string: "forced"), routingKey: "q")
        try await connection.close()
        let received = broker.received.filter { !$0.isEmpty }.map { $0.map(\.body) }
        #expect(received == [["a", "poison"], ["waits", "forced"], ["forced"]],
                "the refused publish is not sent again; the one cut off by an operator is")
    }

    @Test("a request whose answer the broker refused by closing the connection is dead-lettered when delivered again, not answered again")
    func refusedAnswerIsDeadLettered() async throws {
        let request = ScriptedBroker.Delivery(
            properties: .init(headers: [AMQPRPCHeader.uuid: .string("req-1")], replyTo: "replies", type: "spool.echo"),
            body: #"{"big":true}"#)
        let broker = try ScriptedBroker(deliveries: [request]) { published in
            published.routingKey == "replies" ? .closeConnection(501, "FRAME_ERROR - frame_too_large") : .confirm
        }
        var configuration = try AMQPConnectionConfiguration(url: "amqp://guest:guest@127.0.0.1:\(broker.port)/%2f")
        configuration.recovery = .init(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200))
        let connection = try await AMQPConnection.connect(configuration: configuration)
        let daemon = AMQPRPCDaemon(connection: connection, configuration: .init(inputQueue: "rpc"), handlers: .builtin)
        let group = ServiceGroup(configuration: .init(services: [daemon], logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while !broker.received.joined().contains(where: { $0.routingKey == "rpc.dead" }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        await group.triggerGracefulShutdown()
        try await running.value
        try await connection.close()
        let received = broker.received.filter { !$0.isEmpty }
        #expect(received.map { $0.map(\.routingKey) } == [["replies"], ["rpc.dead"]], "answered once, then dead-lettered")
        let reason = received.last?.last?.headers[AMQPRPCHeader.deadLetterReason]?.stringValue ?? ""
        #expect(reason.contains("made the broker close the connection") && reason.contains("501"), "\(reason)")
        #expect(received.last?.last?.body == #"{"big":true}"#)
    }
}
