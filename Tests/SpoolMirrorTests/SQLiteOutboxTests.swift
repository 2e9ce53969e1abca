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

    @Test("an outbox of the earlier layout (JSON bodies in columns) is converted with its waiting units, which are relayed and applied in order")
    func earlierLayout() async throws {
        let directory = try TemporaryDirectory()
        let app = try DatabaseQueue(path: directory.path("app.db"))
        let units = [MirrorUnit(operations: [.add("Page", "home-page", ["name": .string("Home")])]),
                     MirrorUnit(operations: [.add("Page", "about", ["name": .string("About")])])]
        try await app.write { db in
            try db.execute(sql: "CREATE TABLE \(SQLiteOutbox.table) (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL, order_keys TEXT)")
            for unit in units {
                try db.execute(sql: "INSERT INTO \(SQLiteOutbox.table) (id, body, order_keys) VALUES (?, ?, ?)",
                               arguments: [unit.id.uuidString.lowercased(), unit.json, unit.orderKeysText])
            }
            try SQLiteOutbox.createTable(in: db)
            try SQLiteOutbox.createTable(in: db)
        }
        let columns = try await app.read { db in try db.columns(in: SQLiteOutbox.table).map(\.name) }
        #expect(columns == ["seq", "unit"])
        let queue = TableQueue(store: try SQLiteStore(path: directory.path("spool.db")))
        #expect(try await SQLiteOutbox(writer: app).relay(to: queue, destination: "mirror") == 2)
        let received = try await queue.receive(from: "mirror", limit: 5, wait: .seconds(1), visibility: .seconds(30))
        #expect(received.map(\.message) == units.map(\.message), "the same messages, in order")
    }

    @Test("a damaged outbox row goes to the processor as its bytes and is dead-lettered with the reason; the units around it are applied")
    func damagedRow() async throws {
        let directory = try TemporaryDirectory()
        let app = try DatabaseQueue(path: directory.path("app.db"))
        let schema = MirrorTransportTests.schema
        try await app.write { db in
            try SQLiteOutbox.createTable(in: db)
            var first = OperationBuffer(schema: schema)
            try first.record(.add("Page", "a", ["name": .string("A")]))
            try SQLiteOutbox.record(first, in: db)
            try db.execute(sql: "INSERT INTO \(SQLiteOutbox.table) (unit) VALUES (x'01ff')")
            var last = OperationBuffer(schema: schema)
            try last.record(.add("Page", "b", ["name": .string("B")]))
            try SQLiteOutbox.record(last, in: db)
        }
        let queue = TableQueue(store: try SQLiteStore(path: directory.path("spool.db")))
        #expect(try await SQLiteOutbox(writer: app).relay(to: queue, destination: "mirror") == 3)
        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: schema, fileDirectory: URL(fileURLWithPath: directory.path("files")))
        var counts = MirrorProcessor.Counts()
        try await MirrorProcessor(transport: queue, destination: "mirror", target: mirror).processBatch(wait: .seconds(2), into: &counts)
        #expect(counts.applied == 2 && counts.deadLettered == 1, "\(counts)")
        #expect(try mirror.row("Page", key: "a") != nil && mirror.row("Page", key: "b") != nil)
        let dead = try await queue.receive(from: "mirror.dead", limit: 5, wait: .seconds(1), visibility: .seconds(30))
        #expect(dead.map(\.message.id) == ["outbox-row-2"] && dead.first?.message.body == [0x01, 0xFF])
        #expect(dead.first?.message.headers[deadLetterReasonHeader]?.isEmpty == false, "\(dead)")
    }
}
