import Foundation
import Logging
import NIOCore
import NIOPosix
import SpoolCore
import SpoolReplication
import Synchronization

/// The primary: captures every commit of a store file (``WALCapture``) on a thread of its own,
/// keeps them in a ``ReplicationLog``, and streams them over TCP to each secondary from the
/// position it greets with (DESIGN §8). Idle connections get a keep-alive every
/// ``Configuration/keepAlive``. A secondary that greets wrongly, with another protocol version,
/// or with a position that is not this primary's history is refused with the reason and closed.
public final class ReplicationPrimary: Sendable {
    /// How the primary captures and serves.
    public struct Configuration: Sendable {
        /// What the retained log keeps.
        public var limits = ReplicationLog.Limits()
        /// How often the log is read for new commits.
        public var pollInterval: Duration = .milliseconds(2)
        /// How often the capture checkpoints the store (copies the log back and lets it restart).
        public var checkpointInterval: Duration = .seconds(1)
        /// How long a connection may be idle before a keep-alive goes out.
        public var keepAlive: Duration = .seconds(5)

        /// The defaults.
        public init() {}
    }

    private struct State {
        var log: ReplicationLog
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waits whose time ran out before they were registered.
        var woken: Set<Int> = []
        var nextWaiter = 0
        var failure: String?
        var stopped = false
    }

    /// The store file.
    public let path: String
    /// Where it listens.
    public let address: (host: String, port: Int)
    private let configuration: Configuration
    private let state: Mutex<State>
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let logger: Logger
    private let positionFile: PositionFile

    /// Starts capturing the store at `path` from a snapshot of it (see
    /// ``WALCapture/init(path:position:snapshot:)``: the first transaction is the store as it is) and listens
    /// on `host`:`port` (0 picks a free port); call ``run()`` to serve.
    public init(path: String, host: String, port: Int, configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "spool.replication")) async throws {
        self.path = path
        self.configuration = configuration
        self.logger = logger
        // The history goes on from the position the last run captured: its first transaction now
        // is an image of the whole store, chained after it, so secondaries that had it follow on.
        let positionFile = PositionFile(path: path + "-replication-primary")
        self.positionFile = positionFile
        let start = try positionFile.read()
        let capture = try WALCapture(path: path, position: start, snapshot: true)
        state = Mutex(State(log: ReplicationLog(base: start, limits: configuration.limits)))
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw SpoolError(.invalidArgument, "cannot listen for secondaries on \(host):\(port): \(error)")
        }
        address = (host, server.channel.localAddress?.port ?? port)
        let thread = Thread { [self] in capturing(capture) }
        thread.name = "spool.replication.capture"
        thread.start()
    }

    /// The last transaction captured.
    public var position: ReplicationPosition { state.withLock { $0.log.position } }

    /// Serves secondaries until the task is cancelled; then stops capturing.
    public func run() async throws {
        defer { stop() }
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { [self] in
                        do {
                            try await serve(connection)
                        } catch {
                            logger.info("secondary connection ended", metadata: ["reason": "\(error)"])
                        }
                    }
                }
            }
        }
    }

    private func stop() {
        let waiters = state.withLock { state in
            state.stopped = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Capturing

    private func capturing(_ capture: WALCapture) {
        var lastCheckpoint = ContinuousClock.now
        while !state.withLock({ $0.stopped }) {
            do {
                var captured = try capture.poll()
                if capture.capturedSinceCheckpoint, ContinuousClock.now - lastCheckpoint >= configuration.checkpointInterval {
                    captured += try capture.checkpoint()
                    lastCheckpoint = ContinuousClock.now
                }
                if !captured.isEmpty { try publish(captured) }
            } catch {
                logger.error("replication capture stopped", metadata: ["reason": "\(error)"])
                state.withLock { $0.failure = "the primary's capture stopped: \(error)" }
                stop()
                return
            }
            Thread.sleep(forTimeInterval: Double(configuration.pollInterval.components.attoseconds) / 1e18
                         + Double(configuration.pollInterval.components.seconds))
        }
    }

    /// Records the new position, then lets secondaries have the transactions: a secondary is
    /// never ahead of what a restarted primary goes on from.
    private func publish(_ transactions: [ReplicationTransaction]) throws {
        if let last = transactions.last { try positionFile.write(ReplicationPosition(transaction: last.number, checksum: last.checksum)) }
        let waiters = try state.withLock { state in
            for transaction in transactions { try state.log.append(transaction) }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until a transaction after `number` is captured, the primary stops, or `timeout`.
    private func next(after number: UInt64, timeout: Duration) async {
        let key = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { state -> Bool in
                        if state.stopped || state.log.position.transaction > number || state.woken.remove(key) != nil { return true }
                        state.waiters[key] = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
            group.addTask { [self] in
                try? await Task.sleep(for: timeout)
                let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    if let waiter = state.waiters.removeValue(forKey: key) { return waiter }
                    state.woken.insert(key)
                    return nil
                }
                waiter?.resume()
            }
            await group.next()
            group.cancelAll()
        }
        state.withLock { _ = $0.woken.remove(key) }
    }

    // MARK: Serving

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async throws {
        // A peer that does not greet within the time is dropped: it holds nothing for long.
        let greeted = Atomic<Bool>(false)
        let channel = connection.channel
        let deadline = Task {
            try await Task.sleep(for: Self.greetingTime)
            if !greeted.load(ordering: .relaxed) { channel.close(promise: nil) }
        }
        defer { deadline.cancel() }
        try await connection.executeThenClose { inbound, outbound in
            var decoder = ReplicationDecoder()
            var iterator = inbound.makeAsyncIterator()
            var greeting: ReplicationMessage?
            while greeting == nil {
                guard let bytes = try await iterator.next() else { return }
                decoder.feed(bytes.readableBytesView)
                do {
                    greeting = try decoder.next()
                } catch {
                    try await outbound.write(Self.frames([.refusal("\(error)")]))
                    return
                }
            }
            greeted.store(true, ordering: .relaxed)
            let (answer, failure) = state.withLock { state in (PrimaryGreeting.answer(greeting!, log: state.log), state.failure) }
            if let failure {
                try await outbound.write(Self.frames([.refusal(failure)]))
                return
            }
            var sent: UInt64
            switch answer {
            case .refuse(let reason):
                logger.info("secondary refused", metadata: ["reason": "\(reason)"])
                try await outbound.write(Self.frames([.refusal(reason)]))
                return
            case .snapshot:
                try await outbound.write(Self.frames([.refusal("this primary no longer retains the transactions after the secondary's position; it needs a snapshot")]))
                return
            case .stream(let transactions):
                guard case let .hello(_, position) = greeting! else { return }
                sent = position.transaction
                if !transactions.isEmpty {
                    try await outbound.write(Self.frames(transactions.flatMap(\.messages)))
                    sent = transactions.last!.number
                }
            }
            // The secondary says nothing more; a write to one that went fails within a keep-alive.
            while true {
                await next(after: sent, timeout: configuration.keepAlive)
                let (transactions, stopped, base) = state.withLock { state in
                    (state.log.transactions(after: sent), state.stopped, state.log.base.transaction)
                }
                if stopped { return }
                if sent < base {
                    try await outbound.write(Self.frames([.refusal("the secondary fell behind what this primary retains; it needs a snapshot")]))
                    return
                }
                if transactions.isEmpty {
                    try await outbound.write(Self.frames([.keepAlive]))
                } else {
                    try await outbound.write(Self.frames(transactions.flatMap(\.messages)))
                    sent = transactions.last!.number
                }
            }
        }
    }

    /// How long a connecting secondary has to greet.
    static let greetingTime = Duration.seconds(10)

    private static func frames(_ messages: [ReplicationMessage]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for message in messages { buffer.writeBytes(message.frame) }
        return buffer
    }
}
