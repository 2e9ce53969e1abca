import Foundation
import SQSClient
import SpoolAMQP
import SpoolCore
import SpoolMirror
import SpoolMirrorPostgres
import SpoolMirrorSQLite
import SpoolPostgres
import SpoolSQLite
import SpoolSQS
import SpoolTestSupport
import Testing

/// The seed's scenario through each transport against its real server: declare Page, add
/// "home-page" and commit, process; modify, process; delete, process; the queue is empty after.
@Suite("Mirroring through each transport", .timeLimit(.minutes(3)))
struct MirrorTransportTests {
    static let schema = try! MirrorSchema([try! MirrorEntityType("Page", fields: ["name": .string, "slug": .string, "discoveredDate": .date])])

    static func scenario(_ transport: any Transport, suffix: String = "", mirror given: (any ScenarioMirror)? = nil) async throws {
        let directory = try TemporaryDirectory()
        let mirror: any ScenarioMirror = try given
            ?? SQLiteMirror(path: directory.path("mirror.db"), schema: schema, fileDirectory: URL(fileURLWithPath: directory.path("files")))
        let destination = "mirror-\(UUID().uuidString.prefix(8).lowercased())" + suffix
        let publisher = MirrorPublisher(transport: transport, destination: destination)
        let processor = MirrorProcessor(transport: transport, destination: destination, target: mirror)
        func commit(_ operations: [MirrorOperation]) async throws {
            var unit = OperationBuffer(schema: schema)
            for operation in operations { try unit.record(operation) }
            try await publisher.publish(unit)
        }
        func process() async throws {
            var counts = MirrorProcessor.Counts()
            let deadline = ContinuousClock.now + .seconds(30)
            while counts.applied == 0, ContinuousClock.now < deadline { try await processor.processBatch(wait: .seconds(2), into: &counts) }
            #expect(counts.applied == 1 && counts.deadLettered == 0, "\(counts)")
        }
        let discovered = Date(timeIntervalSince1970: 1_764_921_600)
        try await commit([.add("Page", "home-page", ["name": .string("Home"), "slug": .string("home-page"), "discoveredDate": .date(discovered)])])
        try await process()
        #expect(try await mirror.pages() == 1)
        #expect(try await mirror.page("home-page") == ["name": .string("Home"), "slug": .string("home-page"), "discoveredDate": .date(discovered)])
        try await commit([.modify("Page", "home-page", ["name": .string("Start")])])
        try await process()
        #expect(try await mirror.page("home-page")?["name"] == .string("Start"))
        try await commit([.delete("Page", "home-page")])
        try await process()
        #expect(try await mirror.pages() == 0)
        #expect(try await transport.receive(from: destination, limit: 10, wait: .milliseconds(500), visibility: .seconds(30)).isEmpty, "the queue is empty")
        try await transport.close()
    }

    @Test("through the SQLite store's table queue")
    func tableQueue() async throws {
        let directory = try TemporaryDirectory()
        try await Self.scenario(TableQueue(store: try SQLiteStore(path: directory.path("spool.db"))))
    }

    @Test("through the PostgreSQL store's table queue, into a PostgreSQL mirror", .enabled(if: PostgresServer.shouldRun))
    func postgresTableQueue() async throws {
        let server = try await PostgresServer.shared()
        let database = try server.createDatabase()
        let store = try await PostgresStore(url: server.url(database: database, schema: "spool"), maximumConnections: 2)
        let directory = try TemporaryDirectory()
        let mirror = try await PostgresMirror(url: server.url(database: database, schema: "mirror"), schema: Self.schema,
                                              fileDirectory: URL(fileURLWithPath: directory.path("files")))
        try await Self.scenario(PostgresTableQueue(store: store), mirror: mirror)
        await mirror.close()
        await store.close()
    }

    @Test("through RabbitMQ", .enabled(if: RabbitMQServer.shouldRun, "SPOOL_SKIP_RABBITMQ=1"))
    func rabbitMQ() async throws {
        let broker = try await RabbitMQServer.start()
        try await Self.scenario(try await AMQPTransport.connect(url: broker.url))
    }

    @Test("through SQS (moto), a standard queue and a FIFO queue", .enabled(if: MotoServer.shouldRun, "SPOOL_SKIP_MOTO=1"),
          arguments: ["", ".fifo"])
    func sqs(suffix: String) async throws {
        let moto = try await MotoServer.start()
        let client = SQSClient(configuration: try AWSConfiguration.sqs(environment: [
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_SQS": moto.endpoint, "HOME": "/nonexistent",
        ]))
        try await Self.scenario(SQSTransport(client: client), suffix: suffix)
    }
}

/// A mirror the scenario reads back: the Page with a key, and how many Pages there are.
protocol ScenarioMirror: MirrorTarget {
    func page(_ key: String) async throws -> [String: MirrorValue]?
    func pages() async throws -> Int
}

extension SQLiteMirror: ScenarioMirror {
    func page(_ key: String) async throws -> [String: MirrorValue]? { try row("Page", key: key) }
    func pages() async throws -> Int { try count("Page") }
}

extension PostgresMirror: ScenarioMirror {
    func page(_ key: String) async throws -> [String: MirrorValue]? { try await row("Page", key: key) }
    func pages() async throws -> Int { try await count("Page") }
}
