import Foundation
import SpoolCore
import SpoolMirror
import SpoolMirrorSQLite
import SpoolPostgres
import SpoolSQLite
import SpoolTestSupport
import Testing

/// `spool mirror process` on the SQLite store's table queue, as the README runs it.
@Suite("spool mirror")
struct MirrorCommandTests {
    /// The seed's `Page` type, written to `schema.json` in `directory`: its path and the schema.
    /// The seed's two units: add page home-page, then rename it Start (with `alsoAdding`, a
    /// page of that key too, in the second unit).
    static func publishHomePage(_ schema: MirrorSchema, with publisher: MirrorPublisher, alsoAdding extra: String? = nil) async throws {
        var unit = OperationBuffer(schema: schema)
        try unit.record(.add("Page", "home-page", ["name": .string("Home"), "slug": .string("home-page"),
                                                   "discoveredDate": .date(Date(timeIntervalSince1970: 1_764_921_600))]))
        try await publisher.publish(unit)
        var second = OperationBuffer(schema: schema)
        try second.record(.modify("Page", "home-page", ["name": .string("Start")]))
        if let extra { try second.record(.add("Page", extra, ["name": .string("About")])) }
        try await publisher.publish(second)
    }

    static func pageSchema(in directory: TemporaryDirectory) throws -> (String, MirrorSchema) {
        let path = directory.path("schema.json")
        let text = #"{"types": [{"name": "Page", "fields": {"name": "string", "slug": "string", "discoveredDate": "date", "views": "integer"}}]}"#
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, try MirrorSchema(json: text))
    }

    @Test("units published at commit are applied to the mirror; one that does not fit is dead-lettered with its reason; the queue is empty afterwards")
    func process() async throws {
        let directory = try TemporaryDirectory()
        let (schemaPath, schema) = try Self.pageSchema(in: directory)
        let store = try SQLiteStore(path: directory.path("spool.db"))
        let queue = TableQueue(store: store)
        let publisher = MirrorPublisher(transport: queue, destination: "mirror")
        try await Self.publishHomePage(schema, with: publisher, alsoAdding: "about")
        try await queue.publish(TransportMessage(id: "bad", text: #"{"unit":"\#(UUID().uuidString)","operations":[{"op":"add","type":"Post","key":"x","fields":{}}]}"#),
                                to: "mirror")
        #expect(try await publisher.publish(OperationBuffer(schema: schema)) == nil, "an empty unit publishes nothing")

        let result = try await SpoolProcess.run(["mirror", "process", "--store", "sqlite:" + directory.path("spool.db"), "--transport", "table:mirror",
                                                 "--mirror", "sqlite:" + directory.path("mirror.db"), "--schema", schemaPath, "--once", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(#""applied" : 2"#) && result.stdout.contains(#""deadLettered" : 1"#), "\(result.stdout)")

        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: schema, fileDirectory: URL(fileURLWithPath: directory.path("mirror.db.files")))
        #expect(try mirror.count("Page") == 2)
        #expect(try mirror.row("Page", key: "home-page")?["name"] == .string("Start"))
        let dead = try await queue.receive(from: "mirror.dead", limit: 10, wait: .seconds(1), visibility: .seconds(30))
        #expect(dead.map(\.message.id) == ["bad"] && dead.first?.message.headers[deadLetterReasonHeader]?.contains("'Post' is not declared") == true)
        let status = try await SpoolProcess.run(["mirror", "status", "--store", "sqlite:" + directory.path("spool.db"), "--transport", "table:mirror",
                                                 "--mirror", "sqlite:" + directory.path("mirror.db"), "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let shown = try JSONDecoder().decode([String: JSONValue].self, from: Data(status.stdout.utf8))
        #expect(shown["waiting"] == .number(0) && shown["deadLetters"] == .number(1) && shown["applied"] == .number(2), "\(status.stdout)")
        if case .number(let lag)? = shown["lagSeconds"] { #expect(lag >= 0 && lag < 60, "lag \(lag)") } else { Issue.record("no lag in \(status.stdout)") }
        #expect(try await queue.receive(from: "mirror", limit: 10, wait: .zero, visibility: .seconds(30)).isEmpty, "the queue is empty")

        let again = try await SpoolProcess.run(["mirror", "process", "--store", "sqlite:" + directory.path("spool.db"), "--transport", "table",
                                                "--mirror", "sqlite:" + directory.path("mirror.db"), "--schema", schemaPath, "--once"])
        #expect(again.status == 1 && again.stderr.contains("names no queue"), "\(again.stderr)")
        let port = try LoopbackSocket.freePort()
        let broker = try await SpoolProcess.run(["mirror", "process", "--transport", "amqp://guest:secret@127.0.0.1:\(port)/%2f/mirror",
                                                 "--mirror", "sqlite:" + directory.path("mirror.db"), "--schema", schemaPath, "--once"])
        #expect(broker.status == 1 && broker.stderr.contains("127.0.0.1:\(port)") && !broker.stderr.contains("secret"),
                "the queue after the virtual host %2f is understood; the broker that is not there is named: \(broker.stderr)")
    }

    @Test("POST /v1/mirror/units from an app in any language: checked, collapsed, published; spool mirror process applies it; bad units are refused by name")
    func overHTTP() async throws {
        let directory = try TemporaryDirectory()
        let (schemaPath, _) = try Self.pageSchema(in: directory)
        let store = "sqlite:" + directory.path("spool.db")
        let server = try await ServeProcess.start(["--no-worker", "--store", store, "--mirror-schema", schemaPath, "--mirror-transport", "table:mirror"],
                                                  log: directory.path("serve.log"))
        defer { server.process.terminate() }
        func post(_ body: String) async throws -> HTTPTestResponse {
            try await HTTPTestClient.request(port: server.port, "POST", "/v1/mirror/units", headers: ["Content-Type": "application/json"], body: body)
        }
        let added = try await post(#"{"operations": [{"op": "add", "type": "Page", "key": "home-page", "fields": {"name": "Home", "slug": "home-page", "discoveredDate": "2026-12-05T10:00:00Z"}}, {"op": "modify", "type": "Page", "key": "home-page", "fields": {"name": "Start"}}]}"#)
        #expect(added.status == 202 && added.text.contains(#""operations":1"#), "add then modify collapse to one add: \(added.text)")
        let cancelled = try await post(#"{"operations": [{"op": "add", "type": "Page", "key": "draft", "fields": {}}, {"op": "delete", "type": "Page", "key": "draft"}]}"#)
        #expect(cancelled.status == 202 && cancelled.text.contains(#""operations":0"#), "add then delete is nothing: \(cancelled.text)")
        let undeclared = try await post(#"{"operations": [{"op": "add", "type": "Post", "key": "x", "fields": {}}]}"#)
        #expect(undeclared.status == 422 && undeclared.text.contains("invalid_unit") && undeclared.text.contains("'Post' is not declared"), "\(undeclared.text)")
        let wrongType = try await post(#"{"operations": [{"op": "modify", "type": "Page", "key": "home-page", "fields": {"discoveredDate": 7}}]}"#)
        #expect(wrongType.status == 422 && wrongType.text.contains("takes a date"), "\(wrongType.text)")
        let least = try await post(#"{"operations": [{"op": "add", "type": "Page", "key": "least", "fields": {"views": "-9223372036854775808"}}]}"#)
        #expect(least.status == 202, "the smallest integer, as digits: \(least.text)")
        let malformed = try await post(#"{"operations": ["#)
        #expect(malformed.status == 400, "\(malformed.text)")

        let before = try await HTTPTestClient.request(port: server.port, "GET", "/v1/stats").text
        #expect(before.contains(#""mirror":{"#) && before.contains(#""waiting":2"#) && before.contains(#""oldestWaitingSeconds":"#),
                "/v1/stats shows the unit waiting on the mirror's destination: \(before)")
        let browser: HeadlessChromium? = HeadlessChromium.shouldRun ? try await HeadlessChromium.start() : nil
        defer { browser?.close() }
        if let browser {
            try await browser.navigate("http://127.0.0.1:\(server.port)/")
            try await browser.waitUntil("document.querySelector('#mirror [data-count=\"waiting\"]')?.textContent === '2 waiting'",
                                        "the dashboard's mirror panel with the units waiting")
        }

        let result = try await SpoolProcess.run(["mirror", "process", "--store", store, "--transport", "table:mirror",
                                                 "--mirror", "sqlite:" + directory.path("mirror.db"), "--schema", schemaPath, "--once", "--json"])
        #expect(result.status == 0 && result.stdout.contains(#""applied" : 2"#), "\(result.stdout) \(result.stderr)")
        if let browser {
            try await browser.waitUntil("document.querySelector('#mirror [data-count=\"waiting\"]')?.textContent === '0 waiting'",
                                        "the mirror panel emptied without a reload")
        }
        let schema = try MirrorSchema(json: try String(contentsOfFile: schemaPath, encoding: .utf8))
        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: schema, fileDirectory: URL(fileURLWithPath: directory.path("files")))
        #expect(try mirror.row("Page", key: "home-page")?["name"] == .string("Start"))
        #expect(try mirror.row("Page", key: "least")?["views"] == .integer(Int64.min))
        #expect(try mirror.count("Page") == 2)

        let plain = try await ServeProcess.start(["--no-worker", "--store", "sqlite:" + directory.path("other.db")], log: directory.path("plain.log"))
        defer { plain.process.terminate() }
        let unconfigured = try await HTTPTestClient.request(port: plain.port, "POST", "/v1/mirror/units",
                                                            headers: ["Content-Type": "application/json"], body: #"{"operations": []}"#)
        #expect(unconfigured.status == 404 && unconfigured.text.contains("mirror_not_configured"), "\(unconfigured.text)")
    }

    @Test("spool mirror process --metrics-listen serves the units applied and the lag from commit to mirror")
    func metrics() async throws {
        let directory = try TemporaryDirectory()
        let schemaPath = directory.path("schema.json")
        try #"{"types": [{"name": "Page", "fields": {"name": "string"}}]}"#.write(toFile: schemaPath, atomically: true, encoding: .utf8)
        let schema = try MirrorSchema(json: try String(contentsOfFile: schemaPath, encoding: .utf8))
        let store = try SQLiteStore(path: directory.path("spool.db"))
        let processor = try SpoolProcess.start(["mirror", "process", "--store", "sqlite:" + directory.path("spool.db"), "--transport", "table:mirror",
                                                "--mirror", "sqlite:" + directory.path("mirror.db"), "--schema", schemaPath,
                                                "--metrics-listen", "127.0.0.1:0"], log: directory.path("processor.log"))
        defer { processor.terminate() }
        var port: Int?
        let deadline = ContinuousClock.now + .seconds(30)
        while port == nil, ContinuousClock.now < deadline {
            let log = (try? String(contentsOfFile: directory.path("processor.log"), encoding: .utf8)) ?? ""
            if let range = log.range(of: "metrics at http://127.0.0.1:") { port = Int(log[range.upperBound...].prefix { $0.isNumber }) }
            try await Task.sleep(for: .milliseconds(50))
        }
        let metricsPort = try #require(port, "the processor printed where its metrics are")
        for index in 0..<3 {
            var unit = OperationBuffer(schema: schema)
            try unit.record(.add("Page", "p\(index)", ["name": .string("P\(index)")]))
            try await MirrorPublisher(transport: TableQueue(store: store), destination: "mirror").publish(unit)
        }
        // Its own budget: on a busy machine starting the processor may have used most of the first.
        let applied = ContinuousClock.now + .seconds(60)
        var text = ""
        while !text.contains("spool_mirror_units_applied_total 3"), ContinuousClock.now < applied {
            text = (try? await HTTPTestClient.request(port: metricsPort, "GET", "/metrics").text) ?? ""
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(text.contains("spool_mirror_units_applied_total 3"), "\(text)")
        #expect(text.contains("spool_mirror_lag_seconds_count 3"), "every applied unit's lag is measured: \(text)")
    }

    @Test("spool mirror bench runs the outbox, the table queue and the processor end to end and checks every unit arrived")
    func bench() async throws {
        let result = try await SpoolProcess.run(["mirror", "bench", "--operations", "500", "--unit", "10", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let shown = try JSONDecoder().decode([String: JSONValue].self, from: Data(result.stdout.utf8))
        #expect(shown["unitsApplied"] == .number(50) && shown["operations"] == .number(500), "\(result.stdout)")
        if case .number(let perSecond)? = shown["operationsPerSecond"] { #expect(perSecond > 0) } else { Issue.record("\(result.stdout)") }
        // The drain from a full outbox: timed, and its CPU measured (the relay and processor use some).
        if case .number(let drained)? = shown["drainOperationsPerSecond"], case .number(let cpu)? = shown["drainCPUMicrosecondsPerUnit"] {
            #expect(drained > 0 && cpu > 0, "\(result.stdout)")
        } else {
            Issue.record("no drain figures: \(result.stdout)")
        }
    }

    @Test("all on PostgreSQL: units through the PostgreSQL store's table queue, applied by spool mirror process to typed PostgreSQL tables; spool mirror status reads both",
          .enabled(if: PostgresServer.shouldRun))
    func postgresMirror() async throws {
        let directory = try TemporaryDirectory()
        let (schemaPath, schema) = try Self.pageSchema(in: directory)
        let server = try await PostgresServer.shared()
        let database = try server.createDatabase()
        let storeURL = server.url(database: database, schema: "spool"), url = server.url(database: database, schema: "mirror")
        let store = try await PostgresStore(url: storeURL, maximumConnections: 2)
        let publisher = MirrorPublisher(transport: PostgresTableQueue(store: store), destination: "mirror")
        try await Self.publishHomePage(schema, with: publisher)
        let result = try await SpoolProcess.run(["mirror", "process", "--store", storeURL, "--transport", "table:mirror",
                                                 "--mirror", url, "--schema", schemaPath, "--files", directory.path("files"), "--once", "--json"])
        #expect(result.status == 0 && result.stdout.contains(#""applied" : 2"#), "\(result.stdout) \(result.stderr)")
        let rows = try server.psql("SELECT id, name, slug, extract(epoch FROM \"discoveredDate\")::bigint FROM mirror.\"Page\"", database: database)
        #expect(rows.contains("home-page|Start|home-page|1764921600"), "exactly the row, typed: \(rows)")
        let status = try await SpoolProcess.run(["mirror", "status", "--store", storeURL, "--transport", "table:mirror", "--mirror", url, "--json"])
        #expect(status.status == 0 && status.stdout.contains(#""applied" : 2"#), "\(status.stdout) \(status.stderr)")
        #expect(try await PostgresTableQueue(store: store).backlog(of: "mirror") == TransportBacklog(waiting: 0, inFlight: 0),
                "the store's queue is empty afterwards")
        await store.close()
    }
}
