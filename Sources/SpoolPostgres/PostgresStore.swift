import Foundation
import Logging
import NIOSSL
import PostgresNIO
import SpoolCore
import Synchronization

/// The server store: Spool's tables in one schema of a PostgreSQL database, shared by worker
/// processes on any number of machines.
///
/// Claims take candidates with `FOR UPDATE SKIP LOCKED` and enforce quotas in the same
/// transaction under a lock on the quota rows, so quotas hold across machines. Finishes apply
/// only while the job is running and held by the finishing dispatcher.
///
/// Whatever makes jobs available (enqueue, retry, release, rescue, resume) sends a NOTIFY on
/// the channel `spool_jobs_<schema>` when its transaction commits (a busy store's own enqueues
/// right after, merged: ``PostgresAnnouncer``). The first subscriber to
/// ``events`` starts a listening connection that relays those notifications, so an idle
/// dispatcher in any process starts a new job within milliseconds; see ``events``.
public final class PostgresStore: AffineStore {
    /// Where the store lives.
    public let location: PostgresLocation
    /// The limits enforced on enqueue.
    public let limits: JobLimits
    /// What this store instance committed, and (once anyone subscribes) what other processes
    /// announced on the schema's NOTIFY channel: jobs available in a queue, or in any queue
    /// (`jobsAvailable(queues: [])`) after the listening connection reconnected.
    public let events: StoreEvents

    let schema: PostgresSchema
    let pool: PostgresPool
    let logger: Logger
    /// Wakes this instance's table-queue receivers when it publishes (``PostgresTableQueue``).
    let publishSignals = PublishSignals()
    /// Announces the store's own enqueues to other processes after they commit.
    let announcer: PostgresAnnouncer
    /// Where this process's next claim of each kind begins.
    let claimFloors = ClaimFloors()
    /// Whether a fold of the job counts' rows is under way (``foldCountsSoon()``).
    let countsFolding = Atomic<Bool>(false)
    private let listener: PostgresListener
    private let endListener: PostgresListener

    /// The application name of the store's pooled connections, as `pg_stat_activity` shows it.
    public static let applicationName = "spool"
    /// The application name of the connection that listens for other processes' new jobs.
    public static let listenerApplicationName = "spool-listener"
    /// The `application_name` of the connection that listens for the ends of jobs, in a
    /// process that follows them (`StoreEvents.followEndsEverywhere()`).
    public static let endListenerApplicationName = "spool-end-listener"

    /// Opens the store at `url` (`postgres://user[:password]@host[:port]/database[?schema=NAME]`),
    /// creating the schema and its tables when missing and bringing them up to date.
    ///
    /// Throws a ``SpoolError`` naming the server and the problem when the URL is malformed, the
    /// server is unreachable, the password is wrong, the database is missing, or the schema was
    /// written by a newer Spool.
    public init(url: String, limits: JobLimits = .default, maximumConnections: Int = 10,
                logger: Logger = Logger(label: "spool.postgres")) async throws {
        let location = try PostgresLocation(url: url)
        self.location = location
        self.limits = limits
        self.logger = logger
        let schema = PostgresSchema(name: location.schema)
        self.schema = schema
        var connectionConfiguration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: try location.tls.connectionTLS())
        connectionConfiguration.options.connectTimeout = .seconds(10)
        connectionConfiguration.options.additionalStartupParameters = [("application_name", Self.applicationName)]
        var pooledConfiguration = connectionConfiguration
        pooledConfiguration.options.additionalStartupParameters.append(("search_path", location.schema))
        let listener = PostgresListener(configuration: connectionConfiguration, role: .newJobs(schema), location: location, logger: logger)
        let endListener = PostgresListener(configuration: connectionConfiguration, role: .ends(schema, logger: logger),
                                           location: location, logger: logger)
        self.listener = listener
        self.endListener = endListener
        events = StoreEvents(firstSubscribed: { listener.start(relayingTo: $0) }, startFollowing: { endListener.start(relayingTo: $0) },
                             stopFollowing: { endListener.stop() })
        pool = PostgresPool(configuration: pooledConfiguration, maximum: maximumConnections, logger: logger)
        announcer = PostgresAnnouncer(pool: pool, channel: schema.channel, logger: logger)
        do {
            try await pool.withConnection { try await schema.migrate($0, location: location, logger: logger) }
        } catch {
            throw PostgresStore.translate(error, location: location)
        }
    }

    deinit {
        announcer.close()
        listener.stop()
        endListener.stop()
        pool.close()
    }

    /// Ends the store: stops its listening connection and closes its pooled connections (leased
    /// ones as they come back). Do not use it afterwards. Dropping the last reference does the same.
    public func close() async {
        announcer.close()
        listener.stop()
        endListener.stop()
        await listener.stopped()
        await endListener.stopped()
        pool.close()
    }

    /// Runs `body` in one transaction on a pooled connection. A deadlock or serialization
    /// failure rolls back and runs the body again, up to three times in all.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var tries = 0
        let logger = self.logger
        while true {
            tries += 1
            do {
                return try await pool.withConnection { connection in
                    try await connection.transaction(logger: logger) { try await body($0) }
                }
            } catch let error as PSQLError where tries < 3 && ["40P01", "40001"].contains(error.serverInfo?[.sqlState] ?? "") {
                continue
            } catch {
                throw PostgresStore.translate(error, location: location)
            }
        }
    }

    /// Runs `body` on a pooled connection outside an explicit transaction (on the connection's
    /// event loop with `onItsEventLoop`: see ``PostgresPool/withConnection(onItsEventLoop:_:)``).
    func read<T: Sendable>(onItsEventLoop: Bool = false, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await pool.withConnection(onItsEventLoop: onItsEventLoop) { try await body($0) }
        } catch {
            throw PostgresStore.translate(error, location: location)
        }
    }

    /// Maps PostgresNIO's errors onto ``SpoolError`` naming the server, the role or the database.
    static func translate(_ error: Error, location: PostgresLocation) -> Error {
        if error is SpoolError { return error }
        if error is PostgresConnectionLost {
            return SpoolError(.storeUnavailable, "the connection to PostgreSQL at \(location.host):\(location.port) closed while using store \(location)")
        }
        guard let error = error as? PSQLError else {
            return SpoolError(.storeUnavailable, "store \(location) failed: \(error)")
        }
        let server = "\(location.host):\(location.port)"
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            let message = error.serverInfo?[.message] ?? "unknown server error"
            switch state {
            case "28000" where message.contains("no encryption"):
                return SpoolError(.storeUnavailable, "cannot open store \(location): the server at \(server) takes only TLS connections from here and the URL says sslmode=\(location.tls.mode.rawValue): \(message)")
            case "28P01", "28000":
                return SpoolError(.storeUnavailable, "cannot open store \(location): the server refused user '\(location.username)' (wrong password or no access): \(message)")
            case "3D000":
                return SpoolError(.storeUnavailable, "cannot open store \(location): database '\(location.database)' does not exist on \(server)")
            case "57P03", "53300":
                return SpoolError(.storeUnavailable, "cannot open store \(location): the server at \(server) accepts no connections now: \(message)")
            default:
                return SpoolError(.storeUnavailable, "store \(location) failed: \(message) (SQLSTATE \(state))")
            }
        case .sslUnsupported:
            return SpoolError(.storeUnavailable, "cannot open store \(location): the server at \(server) offers no TLS and sslmode=\(location.tls.mode.rawValue) requires it")
        case .connectionError where error.underlying is NIOSSLError || error.underlying is BoringSSLError || error.underlying is NIOSSLExtraError:
            return SpoolError(.storeUnavailable, "cannot open store \(location): TLS with PostgreSQL at \(server) failed (sslmode=\(location.tls.mode.rawValue)): \(error.underlying.map { "\($0)" } ?? "handshake failed")")
        case .connectionError:
            let cause = error.underlying.map { "\($0)" } ?? "connection failed"
            return SpoolError(.storeUnavailable, "cannot reach PostgreSQL at \(server) for store \(location): \(cause)")
        case .authMechanismRequiresPassword:
            return SpoolError(.storeUnavailable, "cannot open store \(location): the server asks user '\(location.username)' for a password and the URL gives none")
        case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            return SpoolError(.storeUnavailable, "the connection to PostgreSQL at \(server) closed while using store \(location)")
        default:
            return SpoolError(.storeUnavailable, "store \(location) failed: \(error.code)")
        }
    }
}
