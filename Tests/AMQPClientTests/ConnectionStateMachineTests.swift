@testable import AMQPClient
import NIOCore
import Testing

/// Drives the connection state machine with bytes, as a broker would send them, and no socket.
@Suite struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine

    static let configuration = Machine.Configuration(user: "user", password: "secret", virtualHost: "/vh",
                                                     channelMax: 100, frameMax: 8192, heartbeat: 30)

    /// Feeds `bytes` one byte at a time, collecting every action.
    static func feedBytewise(_ machine: inout Machine, _ bytes: ByteBuffer) -> [Machine.Action] {
        var pending = ByteBuffer()
        var actions: [Machine.Action] = []
        for byte in bytes.readableBytesView {
            pending.writeInteger(byte)
            actions += machine.bytesReceived(&pending)
        }
        #expect(pending.readableBytes == 0)
        return actions
    }

    static func feed(_ machine: inout Machine, _ frames: Frame...) throws -> [Machine.Action] {
        var buffer = ByteBuffer()
        for frame in frames { try frame.encode(into: &buffer) }
        return machine.bytesReceived(&buffer)
    }

    /// The frames in the machine's writes.
    static func written(_ actions: [Machine.Action]) throws -> [Frame] {
        var frames: [Frame] = []
        for case .write(var buffer) in actions {
            while let frame = try Frame.decode(from: &buffer, maximumSize: UInt32.max) { frames.append(frame) }
        }
        return frames
    }

    /// A machine that completed the handshake, with channel 1 open.
    static func openMachine(tune: Method.Tuning = .init(channelMax: 0, frameMax: 131_072, heartbeat: 60)) throws -> Machine {
        var machine = Machine(configuration: configuration)
        _ = machine.start()
        _ = try feed(&machine, .method(channel: 0, .connectionStart(.init(serverProperties: [:], mechanisms: "PLAIN",
                                                                          locales: "en_US"))))
        _ = try feed(&machine, .method(channel: 0, .connectionTune(tune)))
        _ = try feed(&machine, .method(channel: 0, .connectionOpenOk))
        _ = try machine.openChannel(1)
        _ = try feed(&machine, .method(channel: 1, .channelOpenOk))
        return machine
    }

    @Test func handshakeByteByByte() throws {
        var machine = Machine(configuration: Self.configuration)
        guard case .write(let header) = machine.start().first else { Issue.record("no protocol header"); return }
        #expect(Array(header.readableBytesView) == Array("AMQP".utf8) + [0, 0, 9, 1])

        let start = try CodecFixtures.encoded(.method(channel: 0, .connectionStart(.init(
            serverProperties: ["product": .string("RabbitMQ")], mechanisms: "AMQPLAIN PLAIN", locales: "en_US"))))
        let startOk = try Self.written(Self.feedBytewise(&machine, start))
        guard case .method(0, .connectionStartOk(let reply)) = startOk.first else {
            Issue.record("expected start-ok, got \(startOk)")
            return
        }
        #expect(reply.mechanism == "PLAIN")
        #expect(reply.response == [0] + Array("user".utf8) + [0] + Array("secret".utf8))

        let tune = try CodecFixtures.encoded(.method(channel: 0, .connectionTune(.init(channelMax: 2047, frameMax: 131_072,
                                                                                       heartbeat: 60))))
        let tuneFrames = try Self.written(Self.feedBytewise(&machine, tune))
        #expect(tuneFrames == [.method(channel: 0, .connectionTuneOk(.init(channelMax: 100, frameMax: 8192, heartbeat: 30))),
                               .method(channel: 0, .connectionOpen(virtualHost: "/vh"))])

        let openOk = try CodecFixtures.encoded(.method(channel: 0, .connectionOpenOk))
        let opened = Self.feedBytewise(&machine, openOk)
        #expect(opened == [.opened(.init(channelMax: 100, frameMax: 8192, heartbeat: 30,
                                         serverProperties: ["product": .string("RabbitMQ")]))])
        #expect(machine.state == .open)
        #expect(machine.frameMax == 8192)
    }

    @Test func zeroMeansNoLimitInTuneNegotiation() throws {
        var configuration = Self.configuration
        configuration.heartbeat = 0
        configuration.frameMax = 0
        var machine = Machine(configuration: configuration)
        _ = machine.start()
        _ = try Self.feed(&machine, .method(channel: 0, .connectionStart(.init(serverProperties: [:], mechanisms: "PLAIN",
                                                                              locales: "en_US"))))
        let actions = try Self.feed(&machine, .method(channel: 0, .connectionTune(.init(channelMax: 0, frameMax: 0,
                                                                                         heartbeat: 45))))
        #expect(try Self.written(actions).first == .method(channel: 0, .connectionTuneOk(.init(channelMax: 100, frameMax: 0,
                                                                                                 heartbeat: 45))))
    }

    @Test func missingPlainMechanismFailsTheHandshake() throws {
        var machine = Machine(configuration: Self.configuration)
        _ = machine.start()
        let actions = try Self.feed(&machine, .method(channel: 0, .connectionStart(.init(
            serverProperties: [:], mechanisms: "EXTERNAL", locales: "en_US"))))
        guard case .closed(let error) = actions.last else { Issue.record("not closed: \(actions)"); return }
        #expect(error?.code == .connectionFailed)
    }

    @Test func refusedLoginSurfacesTheReplyCode() throws {
        var machine = Machine(configuration: Self.configuration)
        _ = machine.start()
        _ = try Self.feed(&machine, .method(channel: 0, .connectionStart(.init(serverProperties: [:], mechanisms: "PLAIN",
                                                                              locales: "en_US"))))
        let actions = try Self.feed(&machine, .method(channel: 0, .connectionClose(.init(
            replyCode: 403, replyText: "ACCESS_REFUSED - Login was refused"))))
        #expect(try Self.written(actions) == [.method(channel: 0, .connectionCloseOk)])
        #expect(actions.last == .closed(AMQPError(.connectionFailed, "ACCESS_REFUSED - Login was refused", replyCode: 403)))
    }

    @Test func brokerSpeakingAnotherProtocolVersionIsReported() {
        var machine = Machine(configuration: Self.configuration)
        _ = machine.start()
        var reply = ByteBuffer(bytes: Array("AMQP".utf8) + [0, 0, 9, 1])
        guard case .closed(let error) = machine.bytesReceived(&reply).last else { Issue.record("not closed"); return }
        #expect(error?.code == .connectionFailed)
    }

    @Test func contentIsAssembledFromHeaderAndBodyFramesFedByteByByte() throws {
        var machine = try Self.openMachine()
        let deliver = Method.basicDeliver(.init(consumerTag: "c", deliveryTag: 1, redelivered: false, exchange: "x",
                                                routingKey: "k"))
        let bytes = try CodecFixtures.encoded(
            .method(channel: 1, deliver),
            .header(channel: 1, .init(bodySize: 11, properties: CodecFixtures.everyProperty)),
            .body(channel: 1, ByteBuffer(string: "hello")), .heartbeat, .body(channel: 1, ByteBuffer(string: " ")),
            .body(channel: 1, ByteBuffer(string: "world")))
        let actions = Self.feedBytewise(&machine, bytes)
        #expect(actions == [.content(channel: 1, deliver, CodecFixtures.everyProperty, ByteBuffer(string: "hello world"))])
    }

    @Test func emptyBodyCompletesWithTheHeader() throws {
        var machine = try Self.openMachine()
        let getOk = Method.basicGetOk(.init(deliveryTag: 1, redelivered: false, exchange: "", routingKey: "q",
                                            messageCount: 0))
        let actions = try Self.feed(&machine, .method(channel: 1, getOk), .header(channel: 1, .init(bodySize: 0, properties: .init())))
        #expect(actions == [.content(channel: 1, getOk, AMQPBasicProperties(), ByteBuffer())])
    }

    @Test func bodyLongerThanAnnouncedIsAFrameError() throws {
        var machine = try Self.openMachine()
        let actions = try Self.feed(&machine, .method(channel: 1, .basicGetOk(.init(deliveryTag: 1, redelivered: false,
                                                                               exchange: "", routingKey: "q", messageCount: 0))),
                                    .header(channel: 1, .init(bodySize: 2, properties: .init())),
                                    .body(channel: 1, ByteBuffer(string: "abc")))
        guard case .method(0, .connectionClose(let close)) = try Self.written(actions).first else {
            Issue.record("no connection.close: \(actions)")
            return
        }
        #expect(close.replyCode == AMQPError.ReplyCode.frameError)
        guard case .closed(let error) = actions.last else { Issue.record("not closed"); return }
        #expect(error?.code == .frameError)
        #expect(machine.state == .closed)
    }

    @Test func unexpectedHeaderIsAProtocolViolation() throws {
        var machine = try Self.openMachine()
        let actions = try Self.feed(&machine, .header(channel: 1, .init(bodySize: 1, properties: .init())))
        guard case .method(0, .connectionClose(let close)) = try Self.written(actions).first else {
            Issue.record("no connection.close")
            return
        }
        #expect(close.replyCode == AMQPError.ReplyCode.unexpectedFrame)
    }

    @Test func publishSplitsTheBodyToFitFrameMax() throws {
        var machine = try Self.openMachine(tune: .init(channelMax: 0, frameMax: 4096, heartbeat: 0))
        let body = ByteBuffer(bytes: (0..<10_000).map { UInt8(truncatingIfNeeded: $0) })
        let actions = try machine.publish(.init(exchange: "", routingKey: "q"), properties: .persistent, body: body, on: 1)
        let frames = try Self.written(actions)
        #expect(frames.count == 5)
        var reassembled = ByteBuffer()
        for case .body(1, var chunk) in frames {
            #expect(chunk.readableBytes <= 4096 - Frame.overhead)
            reassembled.writeBuffer(&chunk)
        }
        #expect(reassembled == body)
        #expect(frames[1] == .header(channel: 1, .init(bodySize: 10_000, properties: .persistent)))
    }

    @Test func heartbeatIsSentOnlyWhenIdle() throws {
        var machine = try Self.openMachine()
        #expect(machine.heartbeatTick().isEmpty)
        #expect(try Self.written(machine.heartbeatTick()) == [.heartbeat])
        _ = try machine.send(.basicQos(prefetchSize: 0, prefetchCount: 1, global: false), on: 1)
        #expect(try Self.written(machine.heartbeatTick()).isEmpty)
    }

    @Test func silenceForTwoHeartbeatIntervalsFailsTheConnection() throws {
        var machine = try Self.openMachine()
        _ = machine.heartbeatTick()
        for _ in 0..<3 { _ = machine.heartbeatTick() }
        _ = try Self.feed(&machine, .heartbeat)
        _ = machine.heartbeatTick()
        for _ in 0..<3 { _ = machine.heartbeatTick() }
        #expect(machine.state == .open)
        #expect(machine.heartbeatTick().last == .closed(AMQPError(.heartbeatTimeout,
                                                                  "no frame from the broker for two heartbeat intervals")))
        #expect(machine.state == .closed)
    }

    @Test func brokerChannelCloseIsAnsweredAndSurfaced() throws {
        var machine = try Self.openMachine()
        let actions = try Self.feed(&machine, .method(channel: 1, .channelClose(.init(
            replyCode: 404, replyText: "NOT_FOUND - no queue 'q'", classID: 50, methodID: 10))))
        #expect(try Self.written(actions) == [.method(channel: 1, .channelCloseOk)])
        #expect(actions.last == .channelClosed(1, AMQPError(.channelClosed, "NOT_FOUND - no queue 'q'", replyCode: 404)))
        #expect(!machine.isOpen(channel: 1))
        #expect(throws: AMQPError.self) { try machine.send(.basicQos(prefetchSize: 0, prefetchCount: 1, global: false), on: 1) }
        #expect(machine.nextFreeChannel() == 1)
    }

    @Test func brokerConnectionCloseIsAnsweredAndSurfaced() throws {
        var machine = try Self.openMachine()
        let actions = try Self.feed(&machine, .method(channel: 0, .connectionClose(.init(
            replyCode: 320, replyText: "CONNECTION_FORCED - bye"))))
        #expect(try Self.written(actions) == [.method(channel: 0, .connectionCloseOk)])
        #expect(actions.last == .closed(AMQPError(.connectionClosed, "CONNECTION_FORCED - bye", replyCode: 320)))
        #expect(machine.socketClosed().isEmpty)
    }

    @Test func clientCloseHandshakes() throws {
        var machine = try Self.openMachine()
        let channelClose = try machine.closeChannel(1)
        guard case .method(1, .channelClose) = try Self.written(channelClose).first else { Issue.record("no close"); return }
        #expect(try Self.feed(&machine, .method(channel: 1, .basicAck(deliveryTag: 1, multiple: false))).isEmpty)
        #expect(try Self.feed(&machine, .method(channel: 1, .channelCloseOk)) == [.channelClosed(1, nil)])
        guard case .method(0, .connectionClose) = try Self.written(machine.close()).first else { Issue.record("no close"); return }
        #expect(try Self.feed(&machine, .method(channel: 0, .connectionCloseOk)) == [.closed(nil)])
    }

    @Test func flowIsAnsweredAndOtherMethodsAreRouted() throws {
        var machine = try Self.openMachine()
        #expect(try Self.written(Self.feed(&machine, .method(channel: 1, .channelFlow(active: false))))
                == [.method(channel: 1, .channelFlowOk(active: false))])
        #expect(try Self.feed(&machine, .method(channel: 1, .basicNack(deliveryTag: 3, multiple: true, requeue: false)))
                == [.method(channel: 1, .basicNack(deliveryTag: 3, multiple: true, requeue: false))])
        #expect(try Self.feed(&machine, .method(channel: 0, .connectionBlocked(reason: "memory"))) == [.blocked("memory")])
    }

    @Test func methodOnAnUnknownChannelFailsTheConnection() throws {
        var machine = try Self.openMachine()
        let actions = try Self.feed(&machine, .method(channel: 9, .basicQosOk))
        guard case .closed(let error) = actions.last else { Issue.record("not closed"); return }
        #expect(error?.code == .protocolViolation)
    }

    @Test func lostSocketIsReportedOnce() throws {
        var machine = try Self.openMachine()
        #expect(machine.socketClosed() == [.closed(AMQPError(.connectionClosed, "the connection to the broker was lost"))])
        #expect(machine.socketClosed().isEmpty)
        var more = ByteBuffer(bytes: [8, 0, 0, 0, 0, 0, 0, 0xCE])
        #expect(machine.bytesReceived(&more).isEmpty)
    }

    @Test func garbageNeverTraps() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var machine = try Self.openMachine()
            var bytes = ByteBuffer(bytes: (0..<Int.random(in: 1...512, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            })
            _ = machine.bytesReceived(&bytes)
        }
    }
}
