import NIOCore

/// The AMQP 0-9-1 connection protocol as a pure state machine: bytes and commands in, ``Action``s out.
///
/// It owns the handshake (protocol header, PLAIN authentication, tune negotiation, open), channel
/// multiplexing, content assembly (method + header + body frames), splitting outgoing content over
/// frame-max, heartbeat accounting in both directions, and the close handshakes. It never touches a
/// socket or a clock: the NIO layer feeds it bytes and heartbeat ticks and executes its actions, and
/// unit tests drive it byte by byte.
struct ConnectionStateMachine {
    /// What the client asks for during the handshake.
    struct Configuration: Sendable {
        var user: String
        var password: String
        var virtualHost: String
        /// The highest channel number wanted; `0` accepts the broker's limit.
        var channelMax: UInt16 = 2047
        /// The largest frame wanted, in bytes; `0` accepts the broker's limit.
        var frameMax: UInt32 = 131_072
        /// The heartbeat interval wanted, in seconds; `0` accepts the broker's proposal.
        var heartbeat: UInt16 = 60
        var clientProperties: AMQPTable = [:]
    }

    /// The limits both peers agreed on, and what the broker said about itself.
    struct Negotiated: Hashable, Sendable {
        var channelMax: UInt16
        var frameMax: UInt32
        var heartbeat: UInt16
        var serverProperties: AMQPTable
    }

    /// What the caller must do.
    enum Action: Hashable, Sendable {
        /// Write these bytes to the socket.
        case write(ByteBuffer)
        /// The connection is open; tick ``heartbeatTick()`` every `heartbeat / 2` seconds when `heartbeat > 0`.
        case opened(Negotiated)
        /// `channel.open-ok` arrived for this channel.
        case channelOpened(UInt16)
        /// A method without content arrived on an open channel.
        case method(channel: UInt16, Method)
        /// A content-carrying method (deliver, get-ok, return) arrived with all of its content.
        case content(channel: UInt16, Method, AMQPBasicProperties, ByteBuffer)
        /// The channel is closed: `nil` when the client asked for it, else the broker's reason
        /// (its `close-ok` has already been written).
        case channelClosed(UInt16, AMQPError?)
        /// The broker blocked (reason) or unblocked (`nil`) publishing on this connection.
        case blocked(String?)
        /// The connection is over; close the socket. `nil` when the client's close completed.
        case closed(AMQPError?)
    }

    enum State: Hashable, Sendable {
        case idle, awaitingStart, awaitingTune, awaitingOpenOk, open, closing, closed
    }

    enum ChannelState {
        case opening
        case open(ContentAssembly)
        case closing
    }

    enum ContentAssembly {
        case idle
        case awaitingHeader(Method)
        case awaitingBody(Method, AMQPBasicProperties, remaining: UInt64, body: ByteBuffer)
    }

    let configuration: Configuration
    let allocator = ByteBufferAllocator()
    var state: State = .idle
    var negotiated: Negotiated?
    var channels: [UInt16: ChannelState] = [:]
    var serverProperties: AMQPTable = [:]
    var receivedSinceTick = false
    var sentSinceTick = false
    var silentTicks = 0

    init(configuration: Configuration) { self.configuration = configuration }

    /// The largest frame either side may send now.
    var frameMax: UInt32 {
        guard let negotiated else { return max(configuration.frameMax, Frame.minimumSize) }
        return negotiated.frameMax == 0 ? UInt32.max : negotiated.frameMax
    }

    /// Whether the channel is open for commands.
    func isOpen(channel: UInt16) -> Bool {
        if case .open = channels[channel] { return true }
        return false
    }

    /// The lowest channel number not in use, or `nil` when all the negotiated ones are.
    func nextFreeChannel() -> UInt16? {
        let limit = negotiated.map { $0.channelMax == 0 ? UInt16.max : $0.channelMax } ?? 0
        var candidate: UInt16 = 1
        while candidate <= limit {
            if channels[candidate] == nil { return candidate }
            if candidate == UInt16.max { break }
            candidate += 1
        }
        return nil
    }

    /// Starts the handshake once the socket is connected.
    mutating func start() -> [Action] {
        guard state == .idle else { return [] }
        state = .awaitingStart
        var buffer = allocator.buffer(capacity: 8)
        buffer.writeBytes(Frame.protocolHeader)
        sentSinceTick = true
        return [.write(buffer)]
    }

    /// Consumes every complete frame in `buffer`, leaving an incomplete one for later.
    mutating func bytesReceived(_ buffer: inout ByteBuffer) -> [Action] {
        var actions: [Action] = []
        while state != .closed, buffer.readableBytes > 0 {
            receivedSinceTick = true
            if state == .awaitingStart, buffer.readableBytesView.starts(with: Array("AMQP".utf8)) {
                return actions + fail(AMQPError(.connectionFailed, "the broker does not speak AMQP 0-9-1"), reply: nil)
            }
            do throws(AMQPError) {
                guard let frame = try Frame.decode(from: &buffer, maximumSize: frameMax) else { break }
                actions += try receive(frame)
            } catch {
                let reply = error.code == .frameError ? AMQPError.ReplyCode.frameError : AMQPError.ReplyCode.unexpectedFrame
                return actions + fail(error, reply: reply)
            }
        }
        return actions
    }

    /// Heartbeat accounting, called every `heartbeat / 2` seconds: sends a heartbeat when nothing
    /// was sent since the last tick, and fails the connection after two intervals of silence.
    mutating func heartbeatTick() -> [Action] {
        guard state == .open || state == .closing else { return [] }
        silentTicks = receivedSinceTick ? 0 : silentTicks + 1
        receivedSinceTick = false
        if silentTicks >= 4 {
            state = .closed
            return [.closed(AMQPError(.heartbeatTimeout, "no frame from the broker for two heartbeat intervals"))]
        }
        defer { sentSinceTick = false }
        guard !sentSinceTick else { return [] }
        return [writing([.heartbeat])]
    }

    /// The socket closed; reports the end of the connection unless it was already over.
    mutating func socketClosed() -> [Action] {
        guard state != .closed else { return [] }
        let wasClosing = state == .closing
        state = .closed
        return [.closed(wasClosing ? nil : AMQPError(.connectionClosed, "the connection to the broker was lost"))]
    }
}
