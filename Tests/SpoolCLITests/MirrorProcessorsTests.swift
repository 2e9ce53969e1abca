import Foundation
import GRDB
import SpoolAMQP
import SpoolCore
import SpoolMirror
import SpoolMirrorSQLite
import SpoolSQLite
import SpoolTestSupport
import Testing

/// `spool mirror process` as several processes on one table queue, and killed mid-stream: the
/// mirror ends equal to the source, every unit applied once, units of one entity in order.
@Suite("spool mirror process: several processors, kill -9", .serialized, .timeLimit(.minutes(3)))
struct MirrorProcessorsTests {
    static let schemaJSON = #"{"types": [{"name": "Page", "fields": {"name": "string", "views": "integer"}}]}"#

    /// A first unit adds pages `counter-0` to `counter-9`; then unit `i` sets the views of page
    /// `counter-(i % 10)` to `i` and adds page `page-i`: in the end each counter must show the
    /// last unit that touched it.
    /// Returns the ids of the counters' units by counter, in publish order.
    @discardableResult
    private static func publish(_ count: Int, schema: MirrorSchema, to queue: any Transport, destination: String = "mirror") async throws -> [[String]] {
        let publisher = MirrorPublisher(transport: queue, destination: destination)
        var counters = OperationBuffer(schema: schema)
        for k in 0..<10 { try counters.record(.add("Page", "counter-\(k)", ["name": .string("Counter \(k)"), "views": .integer(-1)])) }
        try await publisher.publish(counters)
        var byCounter = [[String]](repeating: [], count: 10)
        for i in 0..<count {
            var unit = OperationBuffer(schema: schema)
            try unit.record(.modify("Page", "counter-\(i % 10)", ["views": .integer(Int64(i))]))
            try unit.record(.add("Page", "page-\(i)", ["name": .string("Page \(i)"), "views": .integer(0)]))
            let published = try await publisher.publish(unit)
            byCounter[i % 10].append(published?.id.uuidString.lowercased() ?? "")
        }
        return byCounter
    }

    private static func checkMirror(_ path: String, schema: MirrorSchema, units: Int, directory: TemporaryDirectory) throws {
        let mirror = try SQLiteMirror(path: path, schema: schema, fileDirectory: URL(fileURLWithPath: directory.path("files")))
        #expect(try mirror.count("Page") == units + 10)
        for k in 0..<10 {
            let last = (units - 1) - ((units - 1 - k) % 10)
            #expect(try mirror.row("Page", key: "counter-\(k)")?["views"] == .integer(Int64(last)), "counter-\(k) shows unit \(last), the last to touch it")
        }
        let applied = try DatabaseQueue(path: path).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM spool_mirror_units") }
        #expect(applied == units + 1, "every unit recorded once")
    }

    /// The units the mirror queue still holds, waiting or being applied.
    private static func left(_ store: SQLiteStore) async throws -> Int {
        let backlog = try await TableQueue(store: store).backlog(of: "mirror")
        return backlog.waiting + (backlog.inFlight ?? 0)
    }

    @Test("three processors on one table queue apply 600 units touching 10 shared pages: each page ends at its last unit")
    func threeProcessors() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("spool.db"))
        try await Self.threeProcessors(directory, publishTo: TableQueue(store: store), destination: "mirror",
                                       transport: "table:mirror", store: "sqlite:" + directory.path("spool.db"))
    }

    @Test("three processors on one RabbitMQ queue (single active consumer) apply 600 units touching 10 shared pages in publish order",
          .enabled(if: RabbitMQServer.shouldRun, "SPOOL_SKIP_RABBITMQ=1"))
    func threeProcessorsOnRabbitMQ() async throws {
        let directory = try TemporaryDirectory()
        let broker = try await RabbitMQServer.start()
        let queue = "mirror-\(UUID().uuidString.prefix(8).lowercased())"
        let publisher = try await AMQPTransport.connect(url: broker.url, configuration: .init(singleActiveConsumer: true))
        try await Self.threeProcessors(directory, publishTo: publisher, destination: queue, transport: broker.url + "/" + queue, store: nil)
        try await publisher.close()
    }

    /// Publishes 600 units to `destination`, runs three `spool mirror process` on `transport`
    /// until every unit is applied, and checks the mirror and the order of each page's units.
    private static func threeProcessors(_ directory: TemporaryDirectory, publishTo publisher: any Transport, destination: String,
                                        transport: String, store: String?) async throws {
        try Self.schemaJSON.write(toFile: directory.path("schema.json"), atomically: true, encoding: .utf8)
        let schema = try MirrorSchema(json: Self.schemaJSON)
        let byCounter = try await Self.publish(600, schema: schema, to: publisher, destination: destination)
        let processors = try (0..<3).map { index in
            try SpoolProcess.start(["mirror", "process", "--transport", transport,
                                    "--mirror", "sqlite:" + directory.path("mirror.db"), "--schema", directory.path("schema.json"),
                                    "--files", directory.path("files")] + (store.map { ["--store", $0] } ?? []),
                                   log: directory.path("processor-\(index).log"))
        }
        defer { for process in processors { process.terminate() } }
        let deadline = ContinuousClock.now + .seconds(120)
        while (try? SQLiteMirror.status(at: directory.path("mirror.db")).applied) ?? 0 < 601, ContinuousClock.now < deadline {
            if let index = processors.firstIndex(where: { !$0.isRunning }) {
                let log = (try? String(contentsOfFile: directory.path("processor-\(index).log"), encoding: .utf8)) ?? "(no log)"
                throw ServerError("processor \(index) exited (status \(processors[index].terminationStatus ?? -1)); its log ends:\n"
                                  + log.split(separator: "\n").suffix(20).joined(separator: "\n"))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try Self.checkMirror(directory.path("mirror.db"), schema: schema, units: 600, directory: directory)
        // The mirror records applied units in commit order (their row numbers): the units of
        // each counter must have been applied in the order they were published.
        let order = try await DatabaseQueue(path: directory.path("mirror.db")).read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT id, rowid FROM spool_mirror_units").map { ($0[0] as String, $0[1] as Int64) })
        }
        for (k, ids) in byCounter.enumerated() {
            let applied = ids.compactMap { order[$0] }
            #expect(applied.count == ids.count && applied == applied.sorted(), "the units of counter-\(k) were applied in publish order")
        }
    }

    @Test("a processor killed with SIGKILL mid-stream and started again leaves the mirror equal to the source, nothing applied twice or half")
    func killedProcessor() async throws {
        let directory = try TemporaryDirectory()
        try Self.schemaJSON.write(toFile: directory.path("schema.json"), atomically: true, encoding: .utf8)
        let schema = try MirrorSchema(json: Self.schemaJSON)
        let store = try SQLiteStore(path: directory.path("spool.db"))
        try await Self.publish(1500, schema: schema, to: TableQueue(store: store))
        let arguments = ["mirror", "process", "--store", "sqlite:" + directory.path("spool.db"), "--transport", "table:mirror",
                         "--mirror", "sqlite:" + directory.path("mirror.db"), "--schema", directory.path("schema.json"),
                         "--files", directory.path("files"), "--visibility", "2"]
        for round in 0..<3 {
            let processor = try SpoolProcess.start(arguments, log: directory.path("processor-\(round).log"))
            let deadline = ContinuousClock.now + .seconds(60)
            let before = try await Self.left(store)
            while try await Self.left(store) > before - 200, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            processor.signal(SIGKILL)
            await processor.waitForExit()
        }
        // What the killed processor held is hidden for its visibility, then delivered again.
        try await Task.sleep(for: .milliseconds(2500))
        let last = try await SpoolProcess.run(arguments + ["--once", "--json"])
        #expect(last.status == 0, "\(last.stderr)")
        #expect(try await Self.left(store) == 0)
        try Self.checkMirror(directory.path("mirror.db"), schema: schema, units: 1500, directory: directory)
    }
}
