import Foundation
import Logging
import PostgresNIO
import SpoolCore
import SpoolMirror
import SpoolMirrorPostgres
import SpoolMirrorSQLite
import SpoolSQLite
import SpoolTestSupport
import Testing

/// The outbox in the application's own PostgreSQL database: a unit exists exactly when the
/// application's transaction committed, and the relay moves it to the transport once, in order.
@Suite("PostgreSQL outbox", .enabled(if: PostgresServer.shouldRun))
struct PostgresOutboxTests {
    static let logger = Logger(label: "spool.tests.outbox")

    private static func connect(_ server: PostgresServer, database: String) async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration: .init(host: "127.0.0.1", port: server.port, username: "postgres", password: nil,
                                                                  database: database, tls: .disable),
                                             id: Int.random(in: 1...1_000_000), logger: logger)
    }

    @Test("a committed unit is relayed and applied; a rolled-back one never exists; a relay never sends a unit twice, and two relays take turns")
    func publishAtCommitOnly() async throws {
        let server = try await PostgresServer.shared()
        let database = try server.createDatabase()
        let app = try await Self.connect(server, database: database)
        let other = try await Self.connect(server, database: database)
        let outbox = try PostgresOutbox()
        try await outbox.createTable(on: app, logger: Self.logger)
        try await app.query("CREATE TABLE pages (id text PRIMARY KEY, name text)", logger: Self.logger)
        let schema = MirrorTransportTests.schema
        func change(_ key: String, _ name: String) throws -> OperationBuffer {
            var unit = OperationBuffer(schema: schema)
            try unit.record(.add("Page", key, ["name": .string(name)]))
            return unit
        }
        try await app.query("BEGIN", logger: Self.logger)
        try await app.query("INSERT INTO pages VALUES ('home-page', 'Home')", logger: Self.logger)
        try await outbox.record(try change("home-page", "Home"), on: app, logger: Self.logger)
        try await app.query("COMMIT", logger: Self.logger)
        try await app.query("BEGIN", logger: Self.logger)
        try await app.query("INSERT INTO pages VALUES ('draft', 'Draft')", logger: Self.logger)
        try await outbox.record(try change("draft", "Draft"), on: app, logger: Self.logger)
        try await app.query("ROLLBACK", logger: Self.logger)
        #expect(try await outbox.pending(on: other, logger: Self.logger) == 1, "only the committed unit waits")

        // A transaction that took its number earlier but commits after a later one's relay is
        // neither lost nor sent twice.
        try await app.query("BEGIN", logger: Self.logger)
        try await outbox.record(try change("about", "About"), on: app, logger: Self.logger)
        try await other.query("BEGIN", logger: Self.logger)
        try await outbox.record(try change("contact", "Contact"), on: other, logger: Self.logger)
        try await other.query("COMMIT", logger: Self.logger)

        let directory = try TemporaryDirectory()
        let queue = TableQueue(store: try SQLiteStore(path: directory.path("spool.db")))
        let relayConnection = try await Self.connect(server, database: database)
        #expect(try await outbox.relay(on: relayConnection, to: queue, destination: "mirror", logger: Self.logger) == 2)
        try await app.query("COMMIT", logger: Self.logger)
        #expect(try await outbox.relay(on: relayConnection, to: queue, destination: "mirror", logger: Self.logger) == 1,
                "the late commit is relayed next")
        #expect(try await outbox.relay(on: relayConnection, to: queue, destination: "mirror", logger: Self.logger) == 0, "sent once")

        try await other.query("BEGIN", logger: Self.logger)
        try await other.query("SELECT pg_advisory_xact_lock(hashtext('spool.outbox.spool_mirror_outbox'))", logger: Self.logger)
        try await outbox.record(try change("busy", "Busy"), on: app, logger: Self.logger)
        #expect(try await outbox.relay(on: relayConnection, to: queue, destination: "mirror", logger: Self.logger) == 0,
                "another relay at work: this one waits its turn")
        try await other.query("COMMIT", logger: Self.logger)
        #expect(try await outbox.relay(on: relayConnection, to: queue, destination: "mirror", logger: Self.logger) == 1)

        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: schema, fileDirectory: URL(fileURLWithPath: directory.path("files")))
        var counts = MirrorProcessor.Counts()
        let processor = MirrorProcessor(transport: queue, destination: "mirror", target: mirror)
        while counts.applied < 4 { try await processor.processBatch(wait: .seconds(2), into: &counts) }
        #expect(counts.applied == 4 && counts.deadLettered == 0 && counts.duplicates == 0)
        for key in ["home-page", "about", "contact", "busy"] { #expect(try mirror.row("Page", key: key) != nil, "\(key)") }
        #expect(try mirror.row("Page", key: "draft") == nil, "the rolled-back unit was never published")
        for connection in [app, other, relayConnection] { try await connection.close() }
        #expect(throws: SpoolError.self) { try PostgresOutbox(table: "outbox; DROP TABLE pages") }
    }

    @Test("an outbox of the earlier layout (JSON bodies in columns) is converted in place with its waiting units, which are relayed in order")
    func earlierLayout() async throws {
        let server = try await PostgresServer.shared()
        let database = try server.createDatabase()
        let app = try await Self.connect(server, database: database)
        let outbox = try PostgresOutbox()
        try await app.query("""
            CREATE TABLE spool_mirror_outbox (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text NOT NULL, body text NOT NULL,
                                              order_keys text NOT NULL)
            """, logger: Self.logger)
        let units = [MirrorUnit(operations: [.add("Page", "home-page", ["name": .string("Home")])]),
                     MirrorUnit(operations: [.add("Page", "about", ["name": .string("About")])])]
        for unit in units {
            try await app.query("INSERT INTO spool_mirror_outbox (id, body, order_keys) VALUES (\(unit.id.uuidString.lowercased()), \(unit.json), \(unit.orderKeysText))",
                                logger: Self.logger)
        }
        try await outbox.createTable(on: app, logger: Self.logger)
        try await outbox.createTable(on: app, logger: Self.logger)
        var columns: [String] = []
        for try await name in try await app.query("SELECT column_name::text FROM information_schema.columns WHERE table_name = 'spool_mirror_outbox' ORDER BY ordinal_position",
                                                  logger: Self.logger).decode(String.self) {
            columns.append(name)
        }
        #expect(columns == ["seq", "unit"])
        let directory = try TemporaryDirectory()
        let queue = TableQueue(store: try SQLiteStore(path: directory.path("spool.db")))
        #expect(try await outbox.relay(on: app, to: queue, destination: "mirror", logger: Self.logger) == 2)
        let received = try await queue.receive(from: "mirror", limit: 5, wait: .seconds(1), visibility: .seconds(30))
        #expect(received.map(\.message) == units.map(\.message), "the same messages, in order")
        try await app.close()
    }
}
