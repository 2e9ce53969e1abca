import Foundation
import GRDB
import SpoolCore
import SpoolMirror
import SpoolMirrorSQLite
import SpoolSQLite
import SpoolTestSupport
import Testing

/// The outbox in the application's own SQLite database: a unit exists exactly when the
/// application's transaction committed, and the relay moves it to the transport once.
@Suite("SQLite outbox")
struct SQLiteOutboxTests {
    struct Rollback: Error {}

    @Test("a committed unit is relayed and applied; a rolled-back one never exists; relaying again sends nothing twice")
    func publishAtCommitOnly() async throws {
        let directory = try TemporaryDirectory()
        let app = try DatabaseQueue(path: directory.path("app.db"))
        try await app.write { db in
            try db.execute(sql: "CREATE TABLE pages (id TEXT PRIMARY KEY, name TEXT)")
            try SQLiteOutbox.createTable(in: db)
        }
        let schema = MirrorTransportTests.schema
        @Sendable func change(_ key: String, _ name: String) throws -> OperationBuffer {
            var unit = OperationBuffer(schema: schema)
            try unit.record(.add("Page", key, ["name": .string(name)]))
            return unit
        }
        try await app.write { db in
            try db.execute(sql: "INSERT INTO pages VALUES ('home-page', 'Home')")
            try SQLiteOutbox.record(try change("home-page", "Home"), in: db)
        }
        await #expect(throws: Rollback.self) {
            try await app.write { db in
                try db.execute(sql: "INSERT INTO pages VALUES ('draft', 'Draft')")
                try SQLiteOutbox.record(try change("draft", "Draft"), in: db)
                throw Rollback()
            }
        }
        let outbox = SQLiteOutbox(writer: app)
        #expect(try outbox.pending() == 1, "only the committed unit waits")

        let queue = TableQueue(store: try SQLiteStore(path: directory.path("spool.db")))
        #expect(try await outbox.relay(to: queue, destination: "mirror") == 1)
        #expect(try await outbox.relay(to: queue, destination: "mirror") == 0, "sent once")
        #expect(try outbox.pending() == 0)

        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: schema, fileDirectory: URL(fileURLWithPath: directory.path("files")))
        var counts = MirrorProcessor.Counts()
        try await MirrorProcessor(transport: queue, destination: "mirror", target: mirror).processBatch(wait: .seconds(2), into: &counts)
        #expect(counts.applied == 1 && counts.deadLettered == 0)
        #expect(try mirror.row("Page", key: "home-page")?["name"] == .string("Home"))
        #expect(try mirror.row("Page", key: "draft") == nil, "the rolled-back unit was never published")
    }
}
