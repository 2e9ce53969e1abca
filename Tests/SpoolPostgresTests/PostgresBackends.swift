import Foundation
import Logging
import PostgresNIO
import SpoolPostgres
import SpoolTestSupport

/// The server processes (backends) behind stores' connections, seen and ended through
/// `pg_stat_activity` on a connection of the test's own.
extension PostgresTestDatabase {
    /// Runs `body` on a new connection of the test's own to the test database, then closes it.
    static func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let (server, database) = try await get()
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: "127.0.0.1", port: server.port, username: "postgres", password: nil,
                                 database: database, tls: .disable),
            id: 1, logger: testLogger)
        do {
            let value = try await body(connection)
            try await connection.close()
            return value
        } catch {
            try? await connection.close()
            throw error
        }
    }

    static let testLogger = Logger(label: "spool.tests.postgres")

    /// How many rows of `schema`'s jobs table statements have read so far, by any scan.
    static func jobRowsRead(schema: String, on connection: PostgresConnection) async throws -> Int {
        try await connection.query("SELECT pg_stat_force_next_flush()", logger: testLogger)
        let rows = try await connection.query("""
            SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables
            WHERE schemaname = \(schema) AND relname = 'spool_jobs'
            """, logger: testLogger)
        for try await count in rows.decode(Int.self) { return count }
        throw PostgresServerError("no statistics for \(schema).spool_jobs")
    }

    /// Runs `body` on a new connection of the test's own whose search path is a new schema that a
    /// store has just created; `body` gets the connection and the schema's name.
    static func withFreshSchema<T>(_ body: (PostgresConnection, String) async throws -> T) async throws -> T {
        let (url, schema) = try await freshURL()
        _ = try await PostgresStore(url: url, maximumConnections: 1)   // creates the schema
        return try await withConnection { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "SET search_path TO \(schema)"), logger: testLogger)
            return try await body(connection, schema)
        }
    }

    /// Runs `sql` and returns the first column of every row as process ids.
    static func pids(_ sql: String) async throws -> [Int32] {
        do {
            return try await withConnection { connection in
                var pids: [Int32] = []
                for try await pid in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).decode(Int32.self) {
                    pids.append(pid)
                }
                return pids.sorted()
            }
        } catch let error as PSQLError {
            throw PostgresBackendError("\(sql): \(String(reflecting: error))")
        }
    }

    /// The condition on `pg_stat_activity` that picks the backend listening for `schema`'s jobs.
    private static func listening(_ schema: String) -> String {
        "application_name = '\(PostgresStore.listenerApplicationName)' AND query = 'LISTEN \"spool_jobs_\(schema)\";'"
    }

    /// Waits up to 30 s until a connection listens for `schema`'s jobs; returns its backend's pid.
    static func waitForListener(schema: String) async throws -> Int32 {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let pid = try await pids("SELECT pid FROM pg_stat_activity WHERE \(listening(schema))").first { return pid }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PostgresBackendError("no connection listened for schema \(schema) within 30 s")
    }

    /// The backends listening for `schema`'s jobs now.
    static func listenerPids(schema: String) async throws -> [Int32] {
        try await pids("SELECT pid FROM pg_stat_activity WHERE \(listening(schema))")
    }

    /// Ends the backends listening for `schema`'s jobs; returns their pids.
    static func terminateListeners(schema: String) async throws -> [Int32] {
        try await pids("""
            WITH listeners AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE \(listening(schema)))
            SELECT pid FROM listeners WHERE pg_terminate_backend(pid)
            """)
    }
}

struct PostgresBackendError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
