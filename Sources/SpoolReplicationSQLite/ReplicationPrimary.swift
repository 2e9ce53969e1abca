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
///
/// A secondary behind what the log retains (an empty one, one from before the primary's start)
/// first gets a snapshot: the store as it stands at the latest position (``StoreSnapshot``),
/// streamed page by page with its digest, then every transaction after it.
public final class ReplicationPrimary: Sendable {
    /// How the primary captures and serves.
    public struct Configuration: Sendable {
        /// What the retained log keeps.
        public var limits = ReplicationLog.Limits()
        /// How often the log is read for new commits. The commits of one read travel as one
        /// transaction (see ``WALCapture``), so a longer interval sends, hashes and writes the
        /// pages that every commit rewrites fewer times, and adds up to itself to the lag. A write
        /// waiting for its secondaries (``ReplicationPrimary/replicated(by:timeout:)``) has the
        /// log read at once instead of at the next interval.
        public var pollInterval: Duration = .milliseconds(10)
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
        /// Connections waiting for a snapshot, which the capture thread takes.
        var snapshotWaiters: [CheckedContinuation<StoreSnapshot, any Error>] = []
        /// Each connection's peer and the last transaction it reported applied.
        var secondaries: [Int: (address: String, applied: UInt64?)] = [:]
        var nextSecondary = 0
        /// Writers waiting for the capture's next read of the log (``replicated(by:timeout:)``).
        var captureWaiters: [CheckedContinuation<UInt64, Never>] = []
        /// Writers waiting for secondaries' reports, by key.
        var reportWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// The transaction number recorded in the position file: none published is beyond it.
        var reserved: UInt64
        /// The frames of the latest publications, encoded once for every connection.
        var recent: [Publication] = []
    }

    /// The frames of the transactions `first` through `last`, as one publication sent them.
    private struct Publication {
        var first: UInt64
        var last: UInt64
        var frames: ByteBuffer
    }

    /// How many publications ``State/recent`` keeps, and the most bytes of frames beyond the
    /// newest one (a connection further behind has its transactions encoded from the log).
    static let recentPublications = (count: 64, bytes: 64 << 20)

    /// The store file.
    public let path: String
    /// Where it listens.
    public let address: (host: String, port: Int)
    /// How many promotions are behind this primary (see ``ReplicationMessage``).
    public let term: UInt64
    private let configuration: Configuration
    private let state: Mutex<State>
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let logger: Logger
    private let positionFile: PositionFile
    /// Signalled to have the capture read the log before its interval ends.
    private let wake = DispatchSemaphore(value: 0)

    /// Starts capturing the store at `path` and listens on `host`:`port` (0 picks a free port);
    /// call ``run()`` to serve. The history goes on from the position the last run recorded
    /// with a new start (``ReplicationPosition/restarted(nonce:)``): what was written while no
    /// primary ran is not in any log, so every secondary gets a snapshot first. The term is the
    /// one recorded (a promotion raises it), 1 for a store that never was a secondary.
    public init(path: String, host: String, port: Int, configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "spool.replication")) async throws {
        self.path = path
        self.configuration = configuration
        self.logger = logger
        let positionFile = PositionFile(path: path + "-replication-primary")
        self.positionFile = positionFile
        let recorded = try positionFile.read()
        term = recorded?.term ?? 1
        let start = (recorded?.position ?? .empty).restarted(nonce: (0..<16).map { _ in UInt8.random(in: 0...255) })
        let reserved = start.transaction + Self.reservation
        try positionFile.write(PositionFile.Standing(term: term, position: ReplicationPosition(transaction: reserved, checksum: start.checksum)))
        let capture = try WALCapture(path: path, position: start)
        state = Mutex(State(log: ReplicationLog(base: start, limits: configuration.limits), reserved: reserved))
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

    /// Serves secondaries until the task is cancelled; then stops capturing, stops listening
    /// and ends every connection.
    public func run() async throws {
        defer { stop() }
        try await withTaskCancellationHandler {
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
        } onCancel: { [self] in
            stop()
            server.channel.close(promise: nil)
        }
    }

    private func stop() {
        let (waiters, snapshotWaiters, captureWaiters) = state.withLock { state in
            state.stopped = true
            defer {
                state.waiters = [:]
                state.reportWaiters = [:]
                state.snapshotWaiters = []
                state.captureWaiters = []
            }
            return (Array(state.waiters.values) + Array(state.reportWaiters.values), state.snapshotWaiters, state.captureWaiters)
        }
        for waiter in waiters { waiter.resume() }
        // A position no secondary can confirm: writes waiting for it fail (the primary stopped).
        for waiter in captureWaiters { waiter.resume(returning: .max) }
        for waiter in snapshotWaiters { waiter.resume(throwing: SpoolError(.storeUnavailable, "the primary stopped")) }
    }

    // MARK: Capturing

    private func capturing(_ capture: WALCapture) {
        var lastCheckpoint = ContinuousClock.now
        var lastStatus = ContinuousClock.now - .seconds(1)
        while !state.withLock({ $0.stopped }) {
            if ContinuousClock.now - lastStatus >= .seconds(1) {
                StatusFile.write(status, of: path)
                lastStatus = ContinuousClock.now
            }
            // Writers waiting for the capture's read of their commit: those that came before this
            // read starts (a later one may have committed after the read passed).
            let waiting = state.withLock { state in
                defer { state.captureWaiters = [] }
                return state.captureWaiters
            }
            do {
                var captured = try capture.poll()
                if capture.capturedSinceCheckpoint, ContinuousClock.now - lastCheckpoint >= configuration.checkpointInterval {
                    lastCheckpoint = ContinuousClock.now
                    do {
                        captured += try capture.checkpoint()
                    } catch WALCaptureError.busy(_, let reason) {
                        // The log grows a while longer; the next checkpoint tries again.
                        logger.debug("checkpoint put off", metadata: ["reason": "\(reason)"])
                    }
                }
                if !captured.isEmpty { try publish(captured) }
                let position = state.withLock { $0.log.position.transaction }
                for waiter in waiting { waiter.resume(returning: position) }
                try takeSnapshotIfWanted(capture)
            } catch {
                logger.error("replication capture stopped", metadata: ["reason": "\(error)"])
                state.withLock { $0.failure = "the primary's capture stopped: \(error)" }
                stop()
                // A position no secondary can confirm: their writes fail (the primary stopped).
                for waiter in waiting { waiter.resume(returning: .max) }
                return
            }
            _ = wake.wait(timeout: .now() + configuration.pollInterval.seconds)
        }
    }

    /// How the primary stands now, with each secondary's lag (also written to
    /// `PATH-replication-status` every second while it runs).
    public var status: ReplicationStatus {
        let now = Date()
        return state.withLock { state in
            let secondaries = state.secondaries.sorted { $0.key < $1.key }.compactMap { _, secondary -> ReplicationStatus.Secondary? in
                guard let applied = secondary.applied else { return nil }
                return ReplicationStatus.Secondary(address: secondary.address, transaction: applied, lag: state.log.lag(of: applied, now: now))
            }
            return ReplicationStatus(role: "primary", term: term, transaction: state.log.position.transaction, updatedAt: ISO8601.format(now),
                                     address: "\(address.host):\(address.port)", secondaries: secondaries)
        }
    }

    /// Takes one snapshot for every connection waiting for one, once what was captured on the
    /// way to it is published (so that the log goes on from the snapshot's position).
    private func takeSnapshotIfWanted(_ capture: WALCapture) throws {
        let waiters = state.withLock { state in
            defer { state.snapshotWaiters = [] }
            return state.snapshotWaiters
        }
        guard !waiters.isEmpty else { return }
        do {
            let (captured, snapshot) = try capture.snapshot()
            if !captured.isEmpty { try publish(captured) }
            for waiter in waiters { waiter.resume(returning: snapshot) }
        } catch WALCaptureError.busy(_, let reason) {
            // They wait for the next try.
            logger.debug("snapshot put off", metadata: ["reason": "\(reason)"])
            let stopped = state.withLock { state in
                if !state.stopped { state.snapshotWaiters = waiters + state.snapshotWaiters }
                return state.stopped
            }
            if stopped { for waiter in waiters { waiter.resume(throwing: SpoolError(.storeUnavailable, "the primary stopped")) } }
        } catch {
            for waiter in waiters { waiter.resume(throwing: error) }
            throw error
        }
    }

    /// A snapshot of the store at the latest position, from the capture thread.
    private func snapshot() async throws -> StoreSnapshot {
        try await withCheckedThrowingContinuation { continuation in
            let failure = state.withLock { state -> String? in
                if let failure = state.failure { return failure }
                if state.stopped { return "the primary stopped" }
                state.snapshotWaiters.append(continuation)
                return nil
            }
            if let failure { continuation.resume(throwing: SpoolError(.storeUnavailable, failure)) }
        }
    }

    /// How many transaction numbers one write of the position file reserves.
    static let reservation: UInt64 = 4096

    /// Lets secondaries have the transactions, once the position file reserves their numbers: a
    /// secondary is never ahead of what a restarted primary goes on from (the number after the
    /// one recorded), so it gets a snapshot rather than a refusal. The file is written (and
    /// synced) once per ``reservation`` transactions, not at every capture.
    private func publish(_ transactions: [ReplicationTransaction]) throws {
        if let last = transactions.last, last.number > state.withLock({ $0.reserved }) {
            let reserved = last.number + Self.reservation
            try positionFile.write(PositionFile.Standing(term: term, position: ReplicationPosition(transaction: reserved, checksum: last.checksum)))
            state.withLock { $0.reserved = reserved }
        }
        guard let first = transactions.first, let last = transactions.last else { return }
        let publication = Publication(first: first.number, last: last.number, frames: ByteBuffer(bytes: ReplicationTransaction.frames(transactions)))
        let waiters = try state.withLock { state in
            for transaction in transactions { try state.log.append(transaction) }
            state.recent.append(publication)
            var bytes = state.recent.reduce(0) { $0 + $1.frames.readableBytes }
            while state.recent.count > 1, state.recent.count > Self.recentPublications.count || bytes > Self.recentPublications.bytes {
                bytes -= state.recent.removeFirst().frames.readableBytes
            }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// What a connection that sent through `sent` sends next (all retained): the frames of the
    /// publications that encoded every transaction after it when they hold them all, else the
    /// transactions from the log (encoded by the caller, outside the lock); `nil` when none.
    private static func unsent(after sent: UInt64, in state: State) -> (frames: [ByteBuffer], transactions: [ReplicationTransaction], last: UInt64)? {
        guard sent < state.log.position.transaction else { return nil }
        if let start = state.recent.lastIndex(where: { $0.first == sent + 1 }) {
            return (state.recent[start...].map(\.frames), [], state.recent.last!.last)
        }
        let transactions = state.log.transactions(after: sent)
        return transactions.last.map { ([], transactions, $0.number) }
    }

    /// Waits until a transaction after `number` is captured, the primary stops, or `timeout`.
    private func next(after number: UInt64, timeout: Duration) async {
        await wait(in: \.waiters, timeout: timeout) { $0.log.position.transaction > number }
    }

    /// Waits, registered in the waiters at `waiters` (which are resumed when what they wait for
    /// may have happened), until `ready` holds, the primary stops, or `timeout` passes.
    private func wait(in waiters: WritableKeyPath<State, [Int: CheckedContinuation<Void, Never>]> & Sendable, timeout: Duration,
                      until ready: @escaping @Sendable (State) -> Bool) async {
        let key = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let done = state.withLock { state -> Bool in
                        if state.stopped || ready(state) || state.woken.remove(key) != nil { return true }
                        state[keyPath: waiters][key] = continuation
                        return false
                    }
                    if done { continuation.resume() }
                }
            }
            group.addTask { [self] in
                try? await Task.sleep(for: timeout)
                let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    if let waiter = state[keyPath: waiters].removeValue(forKey: key) { return waiter }
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

    // MARK: Synchronous replication

    /// Returns once `count` secondaries have reported applied every transaction committed
    /// before the call (for `--sync N`: a write is acknowledged only then). Throws, naming what
    /// is missing, when fewer than `count` secondaries are connected, or when they have not all
    /// confirmed within `timeout`; the write stays committed on the primary either way.
    public func replicated(by count: Int, timeout: Duration) async throws {
        func confirming(_ target: UInt64?) -> (connected: Int, confirmed: Int) {
            state.withLock { state in
                let reported = state.secondaries.values.compactMap(\.applied)
                return (reported.count, target.map { target in reported.filter { $0 >= target }.count } ?? 0)
            }
        }
        let connected = confirming(nil).connected
        guard connected >= count else {
            throw SpoolError(.storeUnavailable, "--sync \(count): \(connected == 0 ? "no secondary is" : connected == 1 ? "only 1 secondary is" : "only \(connected) secondaries are") connected; the write is committed on the primary only")
        }
        // The capture's next read of the log comes after the caller's commit.
        let target = await withCheckedContinuation { (continuation: CheckedContinuation<UInt64, Never>) in
            let position = state.withLock { state -> UInt64? in
                if state.stopped { return .max }
                state.captureWaiters.append(continuation)
                return nil
            }
            if let position { continuation.resume(returning: position) } else { wake.signal() }
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            let (_, confirmed) = confirming(target)
            if confirmed >= count { return }
            guard ContinuousClock.now < deadline, !state.withLock({ $0.stopped }) else {
                throw SpoolError(.storeUnavailable, "--sync \(count): \(confirmed) of the secondaries confirmed transaction \(target) within \(timeout); the write is committed on the primary only")
            }
            // Woken by each report; checked under the lock that reports take, so none is missed.
            await wait(in: \.reportWaiters, timeout: deadline - ContinuousClock.now) { state in
                state.secondaries.values.filter { ($0.applied ?? 0) >= target }.count >= count
            }
        }
    }

    // MARK: Serving

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async throws {
        // A peer that does not greet within the time is dropped: it holds nothing for long.
        let greeted = Greeted()
        let channel = connection.channel
        let deadline = Task {
            try await Task.sleep(for: Self.greetingTime)
            if !greeted.value.load(ordering: .relaxed) { channel.close(promise: nil) }
        }
        defer { deadline.cancel() }
        let id = state.withLock { state in
            state.nextSecondary += 1
            state.secondaries[state.nextSecondary] = (channel.remoteAddress.map(Self.describe) ?? "unknown", nil)
            return state.nextSecondary
        }
        defer { state.withLock { _ = $0.secondaries.removeValue(forKey: id) } }
        try await connection.executeThenClose { inbound, outbound in
            // What the secondary sends: its greeting first (handed to the stream below), then
            // reports of what it applied (recorded for its lag).
            let (first, greeting) = AsyncStream<Result<ReplicationMessage, ReplicationWireError>>.makeStream()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [self] in
                    defer { greeting.finish() }
                    var decoder = ReplicationDecoder()
                    var greeted = false
                    for try await bytes in inbound {
                        decoder.feed(bytes.readableBytesView)
                        do throws(ReplicationWireError) {
                            while let message = try decoder.next() {
                                if !greeted {
                                    greeted = true
                                    greeting.yield(.success(message))
                                } else if case .applied(let number) = message {
                                    let waiting = state.withLock { state in
                                        state.secondaries[id]?.applied = number
                                        defer { state.reportWaiters = [:] }
                                        return Array(state.reportWaiters.values)
                                    }
                                    for waiter in waiting { waiter.resume() }
                                }
                            }
                        } catch {
                            if !greeted { greeting.yield(.failure(error)) }
                            return
                        }
                    }
                }
                group.addTask { [self] in
                    var messages = first.makeAsyncIterator()
                    guard let received = await messages.next() else { return }
                    greeted.value.store(true, ordering: .relaxed)
                    switch received {
                    case .failure(let error): try await outbound.write(Self.frames([.refusal("\(error)")]))
                    case .success(let message): try await stream(to: outbound, answering: message)
                    }
                }
                // Either side ending ends the connection (closing it ends the reading side, which
                // does not end on cancellation while the peer stays silent).
                try await group.next()
                channel.close(promise: nil)
                group.cancelAll()
            }
        }
    }

    /// Answers a secondary's greeting, then streams transactions (a snapshot first when it is
    /// behind) until the connection or the primary ends.
    private func stream(to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, answering greeting: ReplicationMessage) async throws {
        let (answer, failure) = state.withLock { state in (PrimaryGreeting.answer(greeting, log: state.log, term: term), state.failure) }
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
        case .superseded(let newer):
            let reason = "this primary (term \(term)) was superseded: a secondary follows a primary promoted to term \(newer)"
            try await fence(reason)
            try await outbound.write(Self.frames([.refusal(reason)]))
            return
        case .snapshot:
            sent = try await sendSnapshot(to: outbound)
        case .stream(let transactions):
            guard case let .hello(_, _, position) = greeting else { return }
            sent = position.transaction
            if !transactions.isEmpty {
                try await outbound.write(ByteBuffer(bytes: ReplicationTransaction.frames(transactions)))
                sent = transactions.last!.number
            }
        }
        // A write to a secondary that went fails within a keep-alive; one that closed its side
        // ends the reading task, which cancels this one.
        while true {
            try Task.checkCancellation()
            await next(after: sent, timeout: configuration.keepAlive)
            let (stopped, base, last) = state.withLock { state in (state.stopped, state.log.base.transaction, state.log.position.transaction) }
            if stopped { return }
            if sent < base {
                sent = try await sendSnapshot(to: outbound)
                continue
            }
            if let (frames, transactions, through) = state.withLock({ [sent] state in Self.unsent(after: sent, in: state) }) {
                try await outbound.write(contentsOf: transactions.isEmpty ? frames : [ByteBuffer(bytes: ReplicationTransaction.frames(transactions))])
                sent = through
            } else {
                try await outbound.write(Self.frames([.keepAlive(transaction: last)]))
            }
        }
    }

    /// Whether a connection's peer has greeted.
    private final class Greeted: Sendable {
        let value = Atomic<Bool>(false)
    }

    private static func describe(_ address: SocketAddress) -> String {
        "\(address.ipAddress ?? "unknown"):\(address.port ?? 0)"
    }

    /// Sends a snapshot of the store at the latest position, read a megabyte at a time off Swift
    /// concurrency's threads, and returns its transaction number.
    private func sendSnapshot(to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> UInt64 {
        let snapshot = try await snapshot()
        logger.info("sending a snapshot", metadata: ["transaction": "\(snapshot.position.transaction)",
                                                     "bytes": "\(UInt64(snapshot.pages) * UInt64(snapshot.pageSize))"])
        try await outbound.write(Self.frames([.snapshot(term: term, position: snapshot.position, pageSize: snapshot.pageSize, pages: snapshot.pages)]))
        var digest = SnapshotDigest(term: term, position: snapshot.position, pageSize: snapshot.pageSize, pages: snapshot.pages)
        let step = UInt32(max(1, (1 << 20) / Int(snapshot.pageSize)))
        let size = Int(snapshot.pageSize)
        var first: UInt32 = 1
        while first <= snapshot.pages {
            let count = min(step, snapshot.pages - first + 1)
            let start = first
            let bytes = try await NIOThreadPool.singleton.runIfActive { try snapshot.read(from: start, count: count) }
            var buffer = ByteBuffer()
            buffer.reserveCapacity(bytes.count + Int(count) * 9)
            bytes.withUnsafeBytes { raw in
                digest.update(raw)
                for index in 0..<Int(count) {
                    buffer.writeBytes(ReplicationMessage.pageFrameHeader(number: start + UInt32(index), size: size))
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(index * size)..<((index + 1) * size)]))
                }
            }
            try await outbound.write(buffer)
            first += count
        }
        try await outbound.write(Self.frames([.snapshotEnd(digest: digest.finalize())]))
        return snapshot.position.transaction
    }

    /// Stops this superseded primary for good: the store refuses every write from any process
    /// (``StoreFence``), the capture stops, and every secondary is refused with `reason`.
    private func fence(_ reason: String) async throws {
        logger.critical("superseded; the store now refuses writes", metadata: ["reason": "\(reason)"])
        state.withLock { $0.failure = reason }
        stop()
        let path = path
        try await NIOThreadPool.singleton.runIfActive {
            try StoreFence.raise(path: path, reason: "spool: store \(path) refuses writes: \(reason); make it a secondary of the new primary (spool secondary)")
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
