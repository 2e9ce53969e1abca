import Foundation
import GRDB
import SpoolCore
import SpoolMirror

/// The outbox of an application whose own data lives in SQLite (GRDB): a unit of mirrored
/// changes is written in the application's own transaction, so it exists exactly when the
/// application's changes committed; ``relay(to:destination:limit:)`` then moves units to a
/// transport, oldest first, and removes each once the transport confirmed it. A crash between the
/// two sends a unit again, which the processor's record of applied units makes harmless.
///
/// ```swift
/// try SQLiteOutbox.createTable(in: db)              // once, in a migration
/// try dbQueue.write { db in
///     try page.save(db)                              // the application's own change
///     try SQLiteOutbox.record(unit, in: db)          // the unit, in the same transaction
/// }
/// try await outbox.relay(to: transport, destination: "mirror")
/// ```
public struct SQLiteOutbox: Sendable {
    /// The table the units wait in.
    public static let table = "spool_mirror_outbox"

    /// The application's database.
    public let writer: any DatabaseWriter

    /// The outbox in `writer`'s database (its table must exist: ``createTable(in:)``).
    public init(writer: any DatabaseWriter) {
        self.writer = writer
    }

    /// Creates the outbox table if it does not exist. Its `seq` grows with each unit (a unit's
    /// rowid is one more than the largest left); a relay removes only units it read, so the order
    /// holds without `AUTOINCREMENT`, which would write one more page at every commit. Each row is
    /// a unit in its packed form (``MirrorUnit/packed``). A table of the earlier layout (a JSON
    /// body, its id and ordering keys in columns) is converted, its waiting units kept in order.
    public static func createTable(in db: Database) throws {
        let columns = try db.tableExists(table) ? try db.columns(in: table).map(\.name) : []
        guard columns.isEmpty || columns.contains("body") else { return }
        if columns.isEmpty {
            try db.execute(sql: "CREATE TABLE \(table) (seq INTEGER PRIMARY KEY, unit BLOB NOT NULL)")
            return
        }
        let keys = columns.contains("order_keys") ? "order_keys" : "NULL"
        let waiting = try Row.fetchAll(db, sql: "SELECT seq, id, body, \(keys) AS order_keys FROM \(table) ORDER BY seq")
        try db.execute(sql: "DROP TABLE \(table)")
        try db.execute(sql: "CREATE TABLE \(table) (seq INTEGER PRIMARY KEY, unit BLOB NOT NULL)")
        for row in waiting {
            let packed = MirrorUnit.packedMessage(id: row["id"], orderKeys: row["order_keys"], body: row["body"])
            try db.execute(sql: "INSERT INTO \(table) (seq, unit) VALUES (?, ?)", arguments: [row["seq"] as Int64, Data(packed)])
        }
    }

    /// Writes the unit `buffer` holds into the outbox, in the transaction `db` is in; nothing for
    /// an empty unit. Returns the unit written.
    @discardableResult
    public static func record(_ buffer: OperationBuffer, in db: Database, id: UUID = UUID()) throws -> MirrorUnit? {
        guard !buffer.isEmpty else { return nil }
        let unit = MirrorUnit(id: id, operations: buffer.collapsed, committedAt: Date())
        try db.cachedStatement(sql: "INSERT INTO \(table) (unit) VALUES (?)").execute(arguments: [Data(unit.packed)])
        return unit
    }

    /// How many units wait.
    public func pending() throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(Self.table)") ?? 0 }
    }

    /// Publishes up to `limit` waiting units to `destination`, oldest first, each removed once the
    /// transport confirmed it; returns how many went. A publish that fails leaves the rest waiting.
    /// A row that is not a packed unit goes as its bytes (``MirrorUnit/outboxMessage(_:row:)``).
    @discardableResult
    public func relay(to transport: any Transport, destination: String, limit: Int = 100) async throws -> Int {
        let rows = try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, unit FROM \(Self.table) ORDER BY seq LIMIT ?", arguments: [limit])
                .map { (seq: $0["seq"] as Int64, unit: Array($0["unit"] as Data)) }
        }
        guard let last = rows.last else { return 0 }
        try await transport.publish(rows.map { MirrorUnit.outboxMessage($0.unit, row: $0.seq) }, to: destination)
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM \(Self.table) WHERE seq <= ?", arguments: [last.seq])
        }
        return rows.count
    }

    /// Relays until the task is cancelled: at once while units wait, and when the outbox ran
    /// short, again after `interval`, so that units committed meanwhile go together.
    public func run(to transport: any Transport, destination: String, limit: Int = 500, interval: Duration = .milliseconds(5)) async throws {
        while !Task.isCancelled {
            if try await relay(to: transport, destination: destination, limit: limit) < limit { try await Task.sleep(for: interval) }
        }
    }
}
