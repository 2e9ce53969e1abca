import Logging
import PostgresNIO
import Synchronization

/// The store's connections: up to a maximum, opened on demand and reused while open.
///
/// A connection the server closed (a restart, `pg_terminate_backend`, a network failure) is
/// dropped when it comes back or is found closed, and a caller waiting for a connection then
/// opens a new one, so the store recovers from losing any number of connections at once.
/// (PostgresNIO's `PostgresClient` pool, as of 1.33, can leave waiting callers hanging after
/// its leased connections are closed by the server, so the store keeps its own.)
final class PostgresPool: Sendable {
    private struct State {
        var idle: [PostgresConnection] = []
        /// Connections counted against the maximum: idle, leased and being opened.
        var open = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var nextID = 0
        var closed = false
    }

    private enum Step {
        case use(PostgresConnection)
        case connect(id: Int)
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
    func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await lease()
        do {
            let value = try await body(connection)
            release(connection, reusable: true)
            return value
        } catch {
            release(connection, reusable: (error as? PSQLError).map { $0.code == .server } ?? true)
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
        for connection in idle { Self.close(connection) }
    }

    private func lease() async throws -> PostgresConnection {
        while true {
            let step = state.withLock { state -> Step in
                while let connection = state.idle.popLast() {
                    if !connection.isClosed { return .use(connection) }
                    state.open -= 1
                }
                guard state.open < maximum else { return .wait }
                state.open += 1
                state.nextID += 1
                return .connect(id: state.nextID)
            }
            switch step {
            case .use(let connection):
                return connection
            case .connect(let id):
                do {
                    return try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
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

    private func release(_ connection: PostgresConnection, reusable: Bool) {
        let keep = reusable && !connection.isClosed
        let (waiter, closing) = state.withLock { state in
            let closing = !keep || state.closed
            if closing { state.open -= 1 } else { state.idle.append(connection) }
            return (state.waiters.isEmpty ? nil : state.waiters.removeFirst(), closing)
        }
        if closing { Self.close(connection) }
        waiter?.resume()
    }

    /// Closes `connection`, keeping it alive until it is closed (PostgresNIO traps when an open
    /// connection is released).
    private static func close(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }
}
