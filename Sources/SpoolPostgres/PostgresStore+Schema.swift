import PostgresNIO
import SpoolCore

extension PostgresStore: SchemaVersioned {
    public func schemaStatus() async throws -> SchemaStatus {
        let table = schema.migrationsTable
        let logger = self.logger
        let applied = try await read { connection in
            var ids: [String] = []
            for try await id in try await connection.query("SELECT id FROM \(unescaped: table)", logger: logger).decode(String.self) {
                ids.append(id)
            }
            return ids
        }
        return SchemaStatus(known: schema.migrations.map(\.id), applied: applied)
    }
}
