import Foundation
import Logging
import NIOCore
import PostgresNIO
import SpoolCore
import SpoolMirror

/// The outbox of an application whose data lives in PostgreSQL: a unit of mirrored changes is
/// written on the application's own connection, in its own transaction, so it exists exactly
/// when the application's changes committed; ``relay(on:to:destination:limit:logger:)`` then
/// moves units to a transport, oldest first, and removes each once the transport confirmed it.
/// A crash between the two sends a unit again, which the processor's record of applied units
/// makes harmless.
///
/// ```swift
/// try await outbox.createTable(on: connection, logger: logger)    // once, in a migration
/// try await connection.query("BEGIN", logger: logger)
/// try await connection.query("UPDATE pages SET …", logger: logger)  // the application's own change
/// try await outbox.record(unit, on: connection, logger: logger)     // the unit, same transaction
/// try await connection.query("COMMIT", logger: logger)
/// try await outbox.relay(on: relayConnection, to: transport, destination: "mirror", logger: logger)
/// ```
public struct PostgresOutbox: Sendable {
    /// The table the units wait in, as given (optionally schema-qualified).
    public let table: String

    /// The outbox in `table` (default `spool_mirror_outbox`, found through the connection's
    /// `search_path`; `SCHEMA.TABLE` names one). Names are plain identifiers: letters, digits
    /// and `_`, not starting with a digit.
    public init(table: String = "spool_mirror_outbox") throws {
        let parts = table.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ part in
            !part.isEmpty && part.count <= 63 && part.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (97...122).contains($0) || (48...57).contains($0) }
                && !(48...57).contains(part.utf8.first!)
        }) else {
            throw SpoolError(.invalidArgument, "outbox table '\(table.prefix(100))' must be TABLE or SCHEMA.TABLE in lowercase letters, digits and _")
        }
        self.table = table
    }

    /// Creates the outbox table if it does not exist: each row a unit in its packed form
    /// (``MirrorUnit/packed``), which the relay turns into the unit's JSON message. A table of the
    /// earlier layout (a JSON body, its id and ordering keys in columns) is converted in place,
    /// its waiting units kept in order; a conversion cut short is finished by the next call.
    public func createTable(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: """
            CREATE TABLE IF NOT EXISTS \(table) (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, unit bytea NOT NULL)
            """), logger: logger)
        var columns: Set<String> = []
        var binds = PostgresBindings()
        binds.append(table)
        for try await name in try await connection.query(PostgresQuery(unsafeSQL: """
            SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
            """, binds: binds), logger: logger).decode(String.self) {
            columns.insert(name)
        }
        guard columns.contains("body") else { return }
        try await connection.query(PostgresQuery(unsafeSQL: "ALTER TABLE \(table) ADD COLUMN IF NOT EXISTS unit bytea"), logger: logger)
        var waiting: [(seq: Int64, id: String, body: String, keys: String)] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: "SELECT seq, id, body, order_keys FROM \(table) WHERE unit IS NULL"),
                                                        logger: logger).decode((Int64, String, String, String).self) {
            waiting.append(row)
        }
        for row in waiting {
            var update = PostgresBindings()
            update.append(ByteBuffer(bytes: MirrorUnit.packedMessage(id: row.id, orderKeys: row.keys, body: row.body)))
            update.append(row.seq)
            try await connection.query(PostgresQuery(unsafeSQL: "UPDATE \(table) SET unit = $1 WHERE seq = $2", binds: update), logger: logger)
        }
        try await connection.query(PostgresQuery(unsafeSQL: """
            ALTER TABLE \(table) DROP COLUMN id, DROP COLUMN body, DROP COLUMN order_keys, ALTER COLUMN unit SET NOT NULL
            """), logger: logger)
    }

    /// Writes the unit `buffer` holds into the outbox on `connection`, inside whatever
    /// transaction the application has open there; nothing for an empty unit. Returns the unit.
    @discardableResult
    public func record(_ buffer: OperationBuffer, on connection: PostgresConnection, logger: Logger, id: UUID = UUID()) async throws -> MirrorUnit? {
        guard !buffer.isEmpty else { return nil }
        let unit = MirrorUnit(id: id, operations: buffer.collapsed, committedAt: Date())
        var binds = PostgresBindings()
        binds.append(ByteBuffer(bytes: unit.packed))
        try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO \(table) (unit) VALUES ($1)", binds: binds), logger: logger)
        return unit
    }

    /// How many units wait.
    public func pending(on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Publishes up to `limit` waiting units to `destination`, oldest first, and removes them
    /// once the transport confirmed them, in one transaction on `connection` (which must have
    /// none open). Relays of one outbox take turns (a transaction-scoped advisory lock), so
    /// units leave in commit order; a relay that finds another at work returns 0. Returns how
    /// many went.
    @discardableResult
    public func relay(on connection: PostgresConnection, to transport: any Transport, destination: String, limit: Int = 100,
                      logger: Logger) async throws -> Int {
        try await connection.query("BEGIN", logger: logger)
        do {
            var binds = PostgresBindings()
            binds.append("spool.outbox." + table)
            var turn = false
            for try await granted in try await connection.query(PostgresQuery(unsafeSQL: "SELECT pg_try_advisory_xact_lock(hashtext($1))", binds: binds),
                                                                logger: logger).decode(Bool.self) {
                turn = granted
            }
            guard turn else {
                try await connection.query("ROLLBACK", logger: logger)
                return 0
            }
            var limitBinds = PostgresBindings()
            limitBinds.append(limit)
            var rows: [(seq: Int64, unit: [UInt8])] = []
            for try await (seq, unit) in try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT seq, unit FROM \(table) ORDER BY seq LIMIT $1", binds: limitBinds),
                logger: logger).decode((Int64, ByteBuffer).self) {
                rows.append((seq, Array(unit.readableBytesView)))
            }
            if !rows.isEmpty {
                try await transport.publish(rows.map { MirrorUnit.outboxMessage($0.unit, row: $0.seq) }, to: destination)
                // Exactly the rows sent: a transaction that took a lower number may commit only now.
                var deleteBinds = PostgresBindings()
                deleteBinds.append(rows.map(\.seq))
                try await connection.query(PostgresQuery(unsafeSQL: "DELETE FROM \(table) WHERE seq = ANY($1)", binds: deleteBinds), logger: logger)
            }
            try await connection.query("COMMIT", logger: logger)
            return rows.count
        } catch {
            try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }
}
