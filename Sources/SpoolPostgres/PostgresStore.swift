import Foundation
import Logging
import PostgresNIO
import SpoolCore

/// The server store: Spool's tables in one schema of a PostgreSQL database, shared by worker
/// processes on any number of machines.
///
/// Claims take candidates with `FOR UPDATE SKIP LOCKED` and enforce quotas in the same
/// transaction under a lock on the quota rows, so quotas hold across machines. Finishes apply
/// only while the job is running and held by the finishing dispatcher.
public final class PostgresStore: JobStore {
    /// Where the store lives.
    public let location: PostgresLocation
    public let limits: JobLimits
    public let events = StoreEvents()

    let schema: PostgresSchema
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

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
        schema = PostgresSchema(name: location.schema)
        var connectionConfiguration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: .disable)
        connectionConfiguration.options.connectTimeout = .seconds(10)
        do {
            let connection = try await PostgresConnection.connect(configuration: connectionConfiguration, id: 0, logger: logger)
            do {
                try await schema.migrate(connection, location: location, logger: logger)
                try await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
        } catch {
            throw PostgresStore.translate(error, location: location)
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.username, password: location.password,
            database: location.database, tls: .disable)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(10)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
    }

    deinit { runner.cancel() }

    /// Runs `body` in one transaction on a pooled connection. A deadlock or serialization
    /// failure rolls back and runs the body again, up to three times in all.
    func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        var tries = 0
        while true {
            tries += 1
            do {
                return try await client.withConnection { connection in
                    try await connection.transaction(logger: logger) { try await body($0) }
                }
            } catch let error as PSQLError where tries < 3 && ["40P01", "40001"].contains(error.serverInfo?[.sqlState] ?? "") {
                continue
            } catch {
                throw PostgresStore.translate(error, location: location)
            }
        }
    }

    /// Runs `body` on a pooled connection outside an explicit transaction.
    func read<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { try await body($0) }
        } catch {
            throw PostgresStore.translate(error, location: location)
        }
    }

    /// Maps PostgresNIO's errors onto ``SpoolError`` naming the server, the role or the database.
    static func translate(_ error: Error, location: PostgresLocation) -> Error {
        if error is SpoolError { return error }
        guard let error = error as? PSQLError else {
            return SpoolError(.storeUnavailable, "store \(location) failed: \(error)")
        }
        let server = "\(location.host):\(location.port)"
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            let message = error.serverInfo?[.message] ?? "unknown server error"
            switch state {
            case "28P01", "28000":
                return SpoolError(.storeUnavailable, "cannot open store \(location): the server refused user '\(location.username)' (wrong password or no access): \(message)")
            case "3D000":
                return SpoolError(.storeUnavailable, "cannot open store \(location): database '\(location.database)' does not exist on \(server)")
            case "57P03", "53300":
                return SpoolError(.storeUnavailable, "cannot open store \(location): the server at \(server) accepts no connections now: \(message)")
            default:
                return SpoolError(.storeUnavailable, "store \(location) failed: \(message) (SQLSTATE \(state))")
            }
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
