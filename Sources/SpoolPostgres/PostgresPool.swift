import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The store's connections: up to a maximum, opened on demand and reused while open.
///
/// A connection the server closed (a restart, `pg_terminate_backend`, a network failure) is
/// dropped when it comes back or is found closed, and a caller waiting for a connection then
/// opens a new one, so the store recovers from losing any number of connections at once.
/// (PostgresNIO's `PostgresClient` pool, as of 1.33, can leave waiting callers hanging after
/// its leased connections are closed by the server, so the store keeps its own.)
///
/// A caller running on an event loop (an HTTP connection's handler in `spool serve`, a producer
/// in ``PostgresStore/withAffinity(_:)``) gets a connection of that loop: an idle one, or a new
/// one opened there while the pool is under its maximum (at the maximum, any idle one). Its
/// statement then goes out and its answer is read on the caller's own thread.
///
/// A query sent on a connection at the moment it closes can wait forever in PostgresNIO 1.33
/// (the request is written to a closed channel and its answer never comes), so each caller's
/// work runs in a task of its own and is given up with an error a second after its connection
/// closed; the stuck task is left behind.
final class PostgresPool: Sendable {
    private struct State {
        var idle: [Member] = []
        /// Connections counted against the maximum: idle, leased and being opened.
        var open = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var nextID = 0
        var closed = false
    }

    private enum Step {
        case use(Member)
        case connect(id: Int, on: (any EventLoop)?)
        case wait
    }

    private let configuration: PostgresConnection.Configuration
    private let maximum: Int
    private let logger: Logger
    private let state = Mutex(State())

    init(configuration: PostgresConnection.Configuration, maximum: Int, logger: Logger) {
        self.configuration = configuration
        self.maximum = max(1, maximum)
        self.logger = logger
    }

    /// Runs `body` on a connection of its own, then returns the connection to the pool. A
    /// connection whose query failed other than with the server's error message is closed.
    ///
    /// With `onItsEventLoop`, `body` runs on the event loop that reads and writes the
    /// connection's socket: the query goes out and its answer is read on the thread that runs
    /// `body`, with no thread woken in between. For one short statement with a small answer
    /// (an enqueue) that is a tenth faster; work that decodes many rows is better left on
    /// Swift's concurrency threads, beside the loop's I/O instead of in front of it.
    func withConnection<T: Sendable>(onItsEventLoop: Bool = false,
                                     _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let member = try await lease()
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, any Error>, Never>) in
            let outcome = Outcome(continuation)
            member.watch { outcome.resume(.failure(PostgresConnectionLost())) }
            Task(executorPreference: onItsEventLoop ? ConnectionLoopExecutor(member.connection.eventLoop) : nil) {
                do {
                    outcome.resume(.success(try await body(member.connection)))
                } catch {
                    outcome.resume(.failure(error))
                }
            }
        }
        member.unwatch()
        switch result {
        case .success(let value):
            release(member, reusable: true)
            return value
        case .failure(let error):
            if error is PostgresConnectionLost { logger.warning("gave up a query on connection \(member.connection.id): it closed under it") }
            release(member, reusable: (error as? PSQLError).map { $0.code == .server } ?? !(error is PostgresConnectionLost))
            throw error
        }
    }

    /// Closes the idle connections; leased ones close when they come back.
    func close() {
        let idle = state.withLock { state in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        for member in idle { Self.close(member.connection) }
    }

    private func lease() async throws -> Member {
        let loop = MultiThreadedEventLoopGroup.currentEventLoop
        while true {
            let step = state.withLock { state -> Step in
                if let loop, let mine = state.idle.lastIndex(where: { $0.connection.eventLoop === loop }) {
                    let member = state.idle.remove(at: mine)
                    if !member.connection.isClosed { return .use(member) }
                    state.open -= 1
                }
                // On a loop with room for one more connection, open one there rather than take
                // another loop's.
                while loop == nil || state.open >= maximum, let member = state.idle.popLast() {
                    if !member.connection.isClosed { return .use(member) }
                    state.open -= 1
                }
                guard state.open < maximum else { return .wait }
                state.open += 1
                state.nextID += 1
                return .connect(id: state.nextID, on: loop)
            }
            switch step {
            case .use(let member):
                return member
            case .connect(let id, let loop):
                do {
                    return Member(try await PostgresConnection.connect(on: loop ?? PostgresConnection.defaultEventLoopGroup.any(),
                                                                       configuration: configuration, id: id, logger: logger))
                } catch {
                    let waiter = state.withLock { state in
                        state.open -= 1
                        return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
                    }
                    waiter?.resume()
                    throw error
                }
            case .wait:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { state in
                        if !state.idle.isEmpty || state.open < maximum { return true }
                        state.waiters.append(continuation)
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
        }
    }

    private func release(_ member: Member, reusable: Bool) {
        let keep = reusable && !member.connection.isClosed
        let (waiter, closing) = state.withLock { state in
            let closing = !keep || state.closed
            if closing { state.open -= 1 } else { state.idle.append(member) }
            return (state.waiters.isEmpty ? nil : state.waiters.removeFirst(), closing)
        }
        if closing { Self.close(member.connection) }
        waiter?.resume()
    }

    /// Closes `connection`, keeping it alive until it is closed (PostgresNIO traps when an open
    /// connection is released).
    private static func close(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }
}

/// A pooled connection, and what to do if it closes under the caller using it.
private final class Member: Sendable {
    let connection: PostgresConnection
    private let onClose = Mutex<(@Sendable () -> Void)?>(nil)

    /// How long work may go on after its connection closed: queries in flight then fail at
    /// once, so work still waiting after this is stuck.
    static let grace = TimeAmount.seconds(1)

    init(_ connection: PostgresConnection) {
        self.connection = connection
        connection.closeFuture.whenComplete { [self] _ in
            connection.eventLoop.scheduleTask(in: Self.grace) { self.onClose.withLock { $0 }?() }
        }
    }

    /// Calls `giveUp` if the connection closes before ``unwatch()``.
    func watch(_ giveUp: @escaping @Sendable () -> Void) {
        onClose.withLock { $0 = giveUp }
        if connection.isClosed { connection.eventLoop.scheduleTask(in: Self.grace) { self.onClose.withLock { $0 }?() } }
    }

    func unwatch() { onClose.withLock { $0 = nil } }
}

/// Resumes its continuation with the first result it is given.
private final class Outcome<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<Result<T, any Error>, Never>?>(nil)

    init(_ continuation: CheckedContinuation<Result<T, any Error>, Never>) {
        self.continuation.withLock { $0 = continuation }
    }

    func resume(_ result: Result<T, any Error>) {
        continuation.withLock { $0.take() }?.resume(returning: result)
    }
}

/// Work given up because its connection closed under it.
struct PostgresConnectionLost: Error, CustomStringConvertible {
    var description: String { "the connection closed while a query was waiting for its answer" }
}

/// Runs a task's jobs on a connection's event loop (see
/// ``PostgresPool/withConnection(onItsEventLoop:_:)`` and ``PostgresStore/withAffinity(_:)``).
final class ConnectionLoopExecutor: TaskExecutor {
    private let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}
