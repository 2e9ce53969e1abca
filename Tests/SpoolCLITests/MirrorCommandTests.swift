import Foundation
import SpoolCore
import SpoolMirror
import SpoolMirrorSQLite
import SpoolSQLite
import SpoolTestSupport
import Testing

/// `spool mirror process` on the SQLite store's table queue, as the README runs it.
@Suite("spool mirror")
struct MirrorCommandTests {
    @Test("units published at commit are applied to the mirror; one that does not fit is dead-lettered with its reason; the queue is empty afterwards")
    func process() async throws {
        let directory = try TemporaryDirectory()
        let schemaPath = directory.path("schema.json")
        try #"{"types": [{"name": "Page", "fields": {"name": "string", "slug": "string", "discoveredDate": "date"}}]}"#
            .write(toFile: schemaPath, atomically: true, encoding: .utf8)
        let schema = try MirrorSchema(json: try String(contentsOfFile: schemaPath, encoding: .utf8))
        let store = try SQLiteStore(path: directory.path("spool.db"))
        let queue = TableQueue(store: store)
        let publisher = MirrorPublisher(transport: queue, destination: "mirror")
        var unit = OperationBuffer(schema: schema)
        try unit.record(.add("Page", "home-page", ["name": .string("Home"), "slug": .string("home-page"),
                                                   "discoveredDate": .date(Date(timeIntervalSince1970: 1_764_921_600))]))
        try await publisher.publish(unit)
        var second = OperationBuffer(schema: schema)
        try second.record(.modify("Page", "home-page", ["name": .string("Start")]))
        try second.record(.add("Page", "about", ["name": .string("About")]))
        try await publisher.publish(second)
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
}
