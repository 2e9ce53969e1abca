@testable import AMQPClient
import Foundation
import NIOCore
import SpoolTestSupport
import Synchronization

/// A broker on a loopback port that speaks just enough AMQP 0-9-1 to open connections, channels
/// and confirm mode, and answers each publish as the test's script says. It shows the client what
/// a real broker cannot be made to do on purpose, such as closing the connection with
/// `501 FRAME_ERROR` because of one message.
///
/// A consumer is sent ``deliveries`` when it starts, marked redelivered from the second
/// connection on. Each connection is served on a thread of its own with blocking sockets;
/// ``holdConnections()`` leaves new connections unanswered (their handshake times out) until
/// ``releaseConnections()``.
final class ScriptedBroker: Sendable {
    /// A message the broker received.
    struct Published: Equatable, Sendable {
        var routingKey: String
        var body: String
        var headers: AMQPTable
    }

    /// A message the broker delivers to each consumer.
    struct Delivery: Sendable {
        var properties: AMQPBasicProperties
        var body: String
    }

    /// What the broker does with a publish.
    enum Answer: Sendable {
        /// Confirms it with `basic.ack`.
        case confirm
        /// Closes the connection with `connection.close` (reply code and text) instead.
        case closeConnection(UInt16, String)
        /// Neither: the publish stays unconfirmed.
        case ignore
    }

    private struct State {
        var received: [[Published]] = []
        var holding = false
    }

    /// The port it listens on, on 127.0.0.1.
    let port: Int
    private let listener: Int32
    private let deliveries: [Delivery]
    private let script: @Sendable (Published) -> Answer
    private let state = Mutex(State())

    /// Listens on a free loopback port and serves connections until the test process ends.
    init(deliveries: [Delivery] = [], script: @escaping @Sendable (Published) -> Answer) throws {
        self.deliveries = deliveries
        self.script = script
        (listener, port) = try LoopbackSocket.listener()
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// The publishes each connection received, in order, one array per connection.
    var received: [[Published]] { state.withLock { $0.received } }

    /// Leaves new connections unanswered until ``releaseConnections()``.
    func holdConnections() { state.withLock { $0.holding = true } }

    /// Serves new connections again.
    func releaseConnections() { state.withLock { $0.holding = false } }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            while state.withLock({ $0.holding }) { usleep(10_000) }
            let index = state.withLock { state in
                state.received.append([])
                return state.received.count - 1
            }
            Thread.detachNewThread { [self] in serve(connection, index: index) }
        }
    }

    private func serve(_ fd: Int32, index: Int) {
        defer { close(fd) }
        var connection = FrameSocket(fd: fd)
        guard connection.readProtocolHeader() else { return }
        connection.send(.method(channel: 0, .connectionStart(.init(serverProperties: [:], mechanisms: "PLAIN", locales: "en_US"))))
        var tags: [UInt16: UInt64] = [:]
        var publishing: (channel: UInt16, routingKey: String, size: UInt64, headers: AMQPTable, body: [UInt8])?
        while let frame = connection.next() {
            switch frame {
            case .method(_, .connectionStartOk):
                connection.send(.method(channel: 0, .connectionTune(.init(channelMax: 16, frameMax: 131_072, heartbeat: 0))))
            case .method(_, .connectionOpen):
                connection.send(.method(channel: 0, .connectionOpenOk))
            case .method(_, .connectionClose):
                connection.send(.method(channel: 0, .connectionCloseOk))
                return
            case .method(_, .connectionCloseOk):
                return
            case .method(let channel, .channelOpen):
                tags[channel] = 0
                connection.send(.method(channel: channel, .channelOpenOk))
            case .method(let channel, .channelClose):
                connection.send(.method(channel: channel, .channelCloseOk))
            case .method(let channel, .confirmSelect):
                connection.send(.method(channel: channel, .confirmSelectOk))
            case .method(let channel, .basicQos):
                connection.send(.method(channel: channel, .basicQosOk))
            case .method(let channel, .queueDeclare(let declare)):
                connection.send(.method(channel: channel, .queueDeclareOk(.init(queue: declare.queue, messageCount: 0, consumerCount: 0))))
            case .method(let channel, .basicConsume(let consume)):
                connection.send(.method(channel: channel, .basicConsumeOk(consumerTag: consume.consumerTag)))
                for (offset, delivery) in deliveries.enumerated() {
                    connection.send(.method(channel: channel, .basicDeliver(.init(
                        consumerTag: consume.consumerTag, deliveryTag: UInt64(offset + 1), redelivered: index > 0, exchange: "",
                        routingKey: consume.queue))))
                    connection.send(.header(channel: channel, .init(bodySize: UInt64(delivery.body.utf8.count), properties: delivery.properties)))
                    connection.send(.body(channel: channel, ByteBuffer(string: delivery.body)))
                }
            case .method(let channel, .basicCancel(let consumerTag, _)):
                connection.send(.method(channel: channel, .basicCancelOk(consumerTag: consumerTag)))
            case .method(let channel, .basicPublish(let publish)):
                tags[channel, default: 0] += 1
                publishing = (channel, publish.routingKey, 0, [:], [])
            case .header(_, let header):
                publishing?.size = header.bodySize
                publishing?.headers = header.properties.headers ?? [:]
                if header.bodySize == 0, let done = publishing {
                    publishing = nil
                    if !answer(done, tag: tags[done.channel] ?? 0, &connection, index) { return }
                }
            case .body(_, var body):
                publishing?.body += body.readBytes(length: body.readableBytes) ?? []
                if let done = publishing, UInt64(done.body.count) >= done.size {
                    publishing = nil
                    if !answer(done, tag: tags[done.channel] ?? 0, &connection, index) { return }
                }
            default:
                continue
            }
        }
    }

    /// Records a publish and answers it; returns `false` once the connection is closed.
    private func answer(_ publish: (channel: UInt16, routingKey: String, size: UInt64, headers: AMQPTable, body: [UInt8]),
                        tag: UInt64, _ connection: inout FrameSocket, _ index: Int) -> Bool {
        let channel = publish.channel
        let published = Published(routingKey: publish.routingKey, body: String(decoding: publish.body, as: UTF8.self),
                                  headers: publish.headers)
        state.withLock { $0.received[index].append(published) }
        switch script(published) {
        case .confirm:
            connection.send(.method(channel: channel, .basicAck(deliveryTag: tag, multiple: false)))
        case .closeConnection(let code, let reason):
            connection.send(.method(channel: 0, .connectionClose(.init(replyCode: code, replyText: reason, classID: 60, methodID: 40))))
            while let frame = connection.next() {
                if case .method(_, .connectionCloseOk) = frame { break }
            }
            return false
        case .ignore:
            break
        }
        return true
    }
}

/// Frames over a blocking socket, for ``ScriptedBroker``.
private struct FrameSocket {
    let fd: Int32
    var inbound = ByteBuffer()

    init(fd: Int32) { self.fd = fd }

    mutating func readProtocolHeader() -> Bool {
        while inbound.readableBytes < 8 {
            guard fill() else { return false }
        }
        return inbound.readBytes(length: 8) == Array("AMQP".utf8) + [0, 0, 9, 1]
    }

    /// The next frame, or `nil` when the peer closed or sent something undecodable.
    mutating func next() -> Frame? {
        while true {
            do {
                if let frame = try Frame.decode(from: &inbound, maximumSize: 131_072) { return frame }
            } catch {
                return nil
            }
            guard fill() else { return nil }
        }
    }

    func send(_ frame: Frame) {
        var buffer = ByteBuffer()
        try? frame.encode(into: &buffer)
        LoopbackSocket.send(buffer.readBytes(length: buffer.readableBytes) ?? [], on: fd)
    }

    private mutating func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        inbound.writeBytes(chunk[0..<count])
        return true
    }
}
