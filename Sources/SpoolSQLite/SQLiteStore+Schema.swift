import GRDB
import SpoolCore

extension SQLiteStore: SchemaVersioned {
    public func schemaStatus() async throws -> SchemaStatus {
        let applied = try read { db in try String.fetchAll(db, sql: "SELECT id FROM spool_migrations") }
        return SchemaStatus(known: SQLiteSchema.migrations.map(\.id), applied: applied)
    }
}
