import Logging
import NIOCore
import NIOPosix

/// The engine behind ``AMQPConnection``: it runs the ``ConnectionStateMachine`` on one event loop,
/// executes its actions on the socket, routes replies, deliveries and confirms to logical channels,
/// and recovers after a broken connection.
///
/// Every stored property is touched only on `eventLoop`; public entry points hop there first.
final class ConnectionCore: @unchecked Sendable {
    enum Phase {
        case connecting, open, recovering, closing, closed(AMQPError?)
    }

    let eventLoop: any EventLoop
    let configuration: AMQPConnectionConfiguration
    let logger: Logger
    var machine: ConnectionStateMachine
    var phase: Phase = .connecting
    var socket: (any Channel)?
    /// Counts sockets; events from an earlier socket are ignored, and deliveries remember theirs.
    var generation: UInt64 = 0
    var records: [UInt16: ChannelRecord] = [:]
    var topology = Topology()
    var consumerCounter = 0
    private var inbound: ByteBuffer?
    private var handshake: EventLoopPromise<Void>?
    private var handshakeTimeout: Scheduled<Void>?
    private var heartbeats: RepeatedTask?
    var closePromise: EventLoopPromise<Void>?
    /// Operations requested while recovering; they run once the connection is open or closed.
    var waitingForRecovery: [() -> Void] = []
    /// The message bytes waiting for recovery: unconfirmed when the connection broke, or published since.
    var bufferedForRecovery = 0
    private var flushScheduled = false
    private var listeners: [Int: AsyncStream<AMQPConnectionEvent>.Continuation] = [:]
    private var nextListener = 0
    /// TLS for every socket, when the configuration asks for it; its failure to set up when it could not be.
    private let tls: Result<ConnectionTLS, AMQPError>?

    init(eventLoop: any EventLoop, configuration: AMQPConnectionConfiguration, logger: Logger) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
        self.machine = ConnectionStateMachine(configuration: Self.machineConfiguration(configuration))
        tls = configuration.tls.map { settings in Result { () throws(AMQPError) in try ConnectionTLS(settings, host: configuration.host) } }
    }

    private static func machineConfiguration(_ c: AMQPConnectionConfiguration) -> ConnectionStateMachine.Configuration {
        var properties: AMQPTable = [
            "product": .string("swift-amqp-client"),
            "platform": .string("Swift"),
            "capabilities": .table([
                "publisher_confirms": .boolean(true), "consumer_cancel_notify": .boolean(true),
                "basic.nack": .boolean(true), "connection.blocked": .boolean(true),
                "exchange_exchange_bindings": .boolean(true), "authentication_failure_close": .boolean(true),
            ]),
        ]
        if let name = c.connectionName { properties["connection_name"] = .string(name) }
        return ConnectionStateMachine.Configuration(
            user: c.user, password: c.password, virtualHost: c.virtualHost, channelMax: c.channelMax,
            frameMax: c.frameMax, heartbeat: c.heartbeat, clientProperties: properties)
    }

    /// Opens a socket and runs the handshake; the future completes when the connection is open.
    func connectSocket() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        generation += 1
        let generation = generation
        machine = ConnectionStateMachine(configuration: Self.machineConfiguration(configuration))
        inbound = nil
        let promise = eventLoop.makePromise(of: Void.self)
        handshake = promise
        handshakeTimeout = eventLoop.scheduleTask(in: TimeAmount(configuration.connectTimeout)) { [self] in
            guard generation == self.generation, handshake != nil else { return }
            execute(machine.fail(AMQPError(.connectionFailed, "the handshake timed out"), reply: nil))
        }
        if case .failure(let error) = tls {
            execute(machine.fail(error, reply: nil))
            return promise.futureResult
        }
        let tls = try? self.tls?.get()
        ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.handler()) }
                    try channel.pipeline.syncOperations.addHandler(FrameHandler(core: self, generation: generation))
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .whenFailure { [self] error in
                guard generation == self.generation else { return }
                execute(machine.fail(AMQPError(.connectionFailed, "cannot connect to \(configuration.host):\(configuration.port): \(error)"), reply: nil))
            }
        return promise.futureResult
    }

    /// An error on the socket, which closes next: one from TLS while the handshake runs fails
    /// it with that cause, instead of a bare "connection closed".
    func socketError(_ generation: UInt64, _ error: any Error) {
        logger.debug("socket error", metadata: ["error": "\(error)"])
        guard generation == self.generation, handshake != nil, ConnectionTLS.isTLSError(error) else { return }
        execute(machine.fail(AMQPError(.connectionFailed, "TLS with \(configuration.host):\(configuration.port) failed: \(error)"), reply: nil))
    }

    func socketActive(_ generation: UInt64, _ channel: any Channel) {
        guard generation == self.generation, machine.state == .idle else {
            channel.close(promise: nil)
            return
        }
        socket = channel
        execute(machine.start())
    }

    func bytesReceived(_ generation: UInt64, _ bytes: ByteBuffer) {
        guard generation == self.generation else { return }
        var buffer = bytes
        if var pending = inbound {
            pending.writeBuffer(&buffer)
            buffer = pending
        }
        let actions = machine.bytesReceived(&buffer)
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            inbound = buffer
        } else {
            inbound = nil
        }
        execute(actions)
    }

    func socketClosed(_ generation: UInt64) {
        guard generation == self.generation else { return }
        socket = nil
        execute(machine.socketClosed())
    }

    /// Carries out what the state machine decided.
    func execute(_ actions: [ConnectionStateMachine.Action]) {
        var needsFlush = false
        for action in actions {
            switch action {
            case .write(let bytes):
                socket?.write(bytes, promise: nil)
                needsFlush = true
            case .opened(let negotiated):
                opened(negotiated)
            case .channelOpened(let id):
                guard let record = records[id], case .opening(let promise) = record.state else { break }
                record.state = .open
                promise.succeed()
            case .method(let channel, let method):
                dispatch(method, on: channel)
            case .content(let channel, let method, let properties, let body):
                dispatchContent(method, properties, body, on: channel)
            case .channelClosed(let id, let error):
                records.removeValue(forKey: id)?.finish(error)
                if let error { logger.info("broker closed channel", metadata: ["channel": "\(id)", "error": "\(error)"]) }
            case .blocked(let reason):
                logger.warning("broker \(reason == nil ? "unblocked" : "blocked") publishing",
                               metadata: ["reason": "\(reason ?? "")"])
                emit(reason.map { .blocked($0) } ?? .unblocked)
            case .closed(let error):
                if needsFlush { socket?.flush() }
                needsFlush = false
                connectionEnded(error)
            }
        }
        if needsFlush { scheduleFlush() }
    }

    /// Flushes once after every operation already submitted to the event loop has written, so
    /// pipelined publishes share system calls.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute { [self] in
            flushScheduled = false
            socket?.flush()
        }
    }

    private func opened(_ negotiated: ConnectionStateMachine.Negotiated) {
        handshakeTimeout?.cancel()
        if negotiated.heartbeat > 0 {
            let interval = TimeAmount.milliseconds(Int64(negotiated.heartbeat) * 500)
            let generation = generation
            heartbeats = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
                guard generation == self.generation else { return }
                execute(machine.heartbeatTick())
            }
        }
        logger.debug("connection open", metadata: ["frameMax": "\(negotiated.frameMax)",
                                                    "heartbeat": "\(negotiated.heartbeat)"])
        handshake?.succeed()
        handshake = nil
    }

    private func connectionEnded(_ error: AMQPError?) {
        heartbeats?.cancel()
        heartbeats = nil
        handshakeTimeout?.cancel()
        if let socket {
            self.socket = nil
            socket.close(promise: nil)
        }
        inbound = nil
        let failure = error ?? AMQPError(.connectionClosed, "the connection was closed by the client")
        for (id, record) in records where !record.connectionLost(failure) { records[id] = nil }
        if let handshake {
            self.handshake = nil
            handshake.fail(failure)
        }
        switch phase {
        case .closing:
            finishAll(nil)
        case .open where configuration.recovery.isEnabled:
            phase = .recovering
            bufferedForRecovery = records.values.reduce(0) { total, record in
                record.confirms.unsettled.reduce(total) { $0 + $1.body.readableBytes }
            }
            logger.warning("connection lost; recovering", metadata: ["error": "\(failure)"])
            emit(.recovering(failure))
            startRecovery()
        case .open:
            finishAll(failure)
        case .connecting, .recovering, .closed:
            break
        }
    }

    /// Ends the connection for good: every channel finishes and ``close()`` completes.
    func finishAll(_ error: AMQPError?) {
        phase = .closed(error)
        for record in records.values { record.finish(error) }
        records.removeAll()
        closePromise?.succeed()
        closePromise = nil
        runWaitingOperations()
        emit(.closed(error))
        for listener in listeners.values { listener.finish() }
        listeners.removeAll()
    }

    /// Registers a listener for connection events; it ends when the connection is closed for good.
    func addListener(_ continuation: AsyncStream<AMQPConnectionEvent>.Continuation) {
        if case .closed(let error) = phase {
            continuation.yield(.closed(error))
            continuation.finish()
            return
        }
        let id = nextListener
        nextListener += 1
        listeners[id] = continuation
        continuation.onTermination = { [self] _ in eventLoop.execute { self.listeners[id] = nil } }
    }

    func emit(_ event: AMQPConnectionEvent) {
        for listener in listeners.values { listener.yield(event) }
    }

    /// Runs `operation` now, or once recovery has finished (successfully or not) while recovering.
    func whenOpen<T: Sendable>(_ operation: @escaping () -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        guard case .recovering = phase else { return operation() }
        let promise = eventLoop.makePromise(of: T.self)
        waitingForRecovery.append { promise.completeWith(operation()) }
        return promise.futureResult
    }

    /// Runs a publish of `bytes` message bytes now, or once recovery has finished while
    /// recovering, unless the bytes already waiting and these would pass the recovery's
    /// ``AMQPConnectionConfiguration/Recovery/maximumBufferedBytes``: then it fails at once.
    func whenOpen<T: Sendable>(publishing bytes: Int, _ operation: @escaping () -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        guard case .recovering = phase else { return operation() }
        let limit = configuration.recovery.maximumBufferedBytes
        guard bufferedForRecovery + bytes <= limit else {
            return eventLoop.makeFailedFuture(AMQPError(.bufferFull, """
                the connection is being recovered and \(bufferedForRecovery) bytes already wait for it; \
                \(bytes) more would pass the limit of \(limit)
                """))
        }
        bufferedForRecovery += bytes
        return whenOpen(operation)
    }

    func runWaitingOperations() {
        bufferedForRecovery = 0
        let waiting = waitingForRecovery
        waitingForRecovery = []
        for operation in waiting { operation() }
    }

    /// The error for operations attempted while the connection is not open.
    var unavailableError: AMQPError? {
        switch phase {
        case .open: nil
        case .connecting: AMQPError(.connectionClosed, "the connection is not open yet")
        case .recovering: AMQPError(.connectionClosed, "the connection is being recovered")
        case .closing: AMQPError(.connectionClosed, "the connection is closing")
        case .closed(let error): error ?? AMQPError(.connectionClosed, "the connection is closed")
        }
    }
}
