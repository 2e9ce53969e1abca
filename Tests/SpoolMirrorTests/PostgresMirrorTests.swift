import Foundation
import Logging
import PostgresNIO
import SpoolCore
import SpoolMirror
import SpoolMirrorPostgres
import SpoolPostgres
import SpoolTestSupport
import Testing

/// Units applied to a real PostgreSQL mirror: typed columns, files, idempotence, tables altered
/// by hand, fields declared later.
@Suite("PostgreSQL mirror", .enabled(if: PostgresServer.shouldRun))
struct PostgresMirrorTests {
    static let everyType = try! MirrorEntityType("Page", fields: ["name": .string, "views": .integer, "score": .double, "draft": .bool,
                                                                  "discoveredDate": .date, "meta": .json, "logo": .file])

    private static func mirror(_ types: [MirrorEntityType], url: String? = nil, directory: TemporaryDirectory) async throws -> (PostgresMirror, String) {
        let server = try await PostgresServer.shared()
        let url = try url ?? server.url(database: try server.createDatabase(), schema: "mirror")
        return (try await PostgresMirror(url: url, schema: try MirrorSchema(types), fileDirectory: URL(fileURLWithPath: directory.path("files"))), url)
    }

    @Test("the seed's scenario with every field type: add, find exactly its row and values; modify, delete; a unit again changes nothing")
    func seedScenario() async throws {
        let directory = try TemporaryDirectory()
        let (mirror, _) = try await Self.mirror([Self.everyType], directory: directory)
        let discovered = Date(timeIntervalSince1970: 1_764_921_600.25)
        let fields: [String: MirrorValue] = ["name": .string("Home"), "views": .integer(1 << 60), "score": .double(0.5), "draft": .bool(true),
                                             "discoveredDate": .date(discovered), "meta": .json(.object(["tags": .array([.string("a")])])),
                                             "logo": .file(Array("png bytes".utf8))]
        let add = MirrorUnit(operations: [.add("Page", "home-page", fields)])
        #expect(try await mirror.apply(add))
        #expect(try await mirror.row("Page", key: "home-page") == fields)
        #expect(try await mirror.apply(MirrorUnit(operations: [.modify("Page", "home-page", ["name": .string("Start"), "views": .null])])))
        let modified = try await mirror.row("Page", key: "home-page")
        #expect(modified?["name"] == .string("Start") && modified?["views"] == .null && modified?["score"] == .double(0.5))
        #expect(try await !mirror.apply(add), "already applied: nothing changes")
        #expect(try await mirror.row("Page", key: "home-page")?["name"] == .string("Start"))
        #expect(try await mirror.apply(MirrorUnit(operations: [.delete("Page", "home-page")])))
        #expect(try await mirror.row("Page", key: "home-page") == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path("files")).isEmpty, "the logo went with its row")
        #expect(try await mirror.status().applied == 3)
        await mirror.close()
    }

    @Test("a table altered by hand refuses a unit as one that can never apply, and a processor dead-letters only that one of its batch")
    func alteredByHand() async throws {
        let directory = try TemporaryDirectory()
        let page = try MirrorEntityType("Page", fields: ["name": .string, "slug": .string])
        let (mirror, url) = try await Self.mirror([page], directory: directory)
        _ = try await mirror.apply(MirrorUnit(operations: [.add("Page", "a", ["name": .string("A")]), .add("Page", "b", [:])]))
        let location = try PostgresLocation(url: url)
        let server = try await PostgresServer.shared()
        let admin = try await PostgresConnection.connect(configuration: .init(host: "127.0.0.1", port: server.port, username: "postgres", password: nil,
                                                                               database: location.database, tls: .disable),
                                                         id: 1, logger: Logger(label: "spool.tests"))
        try await admin.query(#"ALTER TABLE mirror."Page" DROP COLUMN slug"#, logger: Logger(label: "spool.tests"))
        try await admin.close()
        let refused = MirrorUnit(operations: [.modify("Page", "a", ["slug": .string("a")])])
        await #expect(throws: SpoolError.self) { try await mirror.apply(refused) }
        let transport = InMemoryBroker().endpoint()
        let units = [MirrorUnit(operations: [.modify("Page", "a", ["name": .string("A2")])]), refused,
                     MirrorUnit(operations: [.modify("Page", "b", ["name": .string("B")])])]
        try await transport.publish(units.map(\.message), to: "mirror")
        var counts = MirrorProcessor.Counts()
        try await MirrorProcessor(transport: transport, destination: "mirror", target: mirror).processBatch(wait: .seconds(1), into: &counts)
        #expect(counts.applied == 2 && counts.deadLettered == 1, "\(counts)")
        #expect(try await mirror.row("Page", key: "a")?["name"] == .string("A2"))
        #expect(try await mirror.row("Page", key: "b")?["name"] == .string("B"))
        await mirror.close()
    }

    @Test("reopened with a field declared since, the column is added; a column of another type is refused")
    func migration() async throws {
        let directory = try TemporaryDirectory()
        let (first, url) = try await Self.mirror([try MirrorEntityType("Page", fields: ["name": .string])], directory: directory)
        await first.close()
        let (grown, _) = try await Self.mirror([try MirrorEntityType("Page", fields: ["name": .string, "views": .integer])], url: url, directory: directory)
        #expect(try await grown.apply(MirrorUnit(operations: [.add("Page", "a", ["views": .integer(3)])])))
        #expect(try await grown.row("Page", key: "a")?["views"] == .integer(3))
        await grown.close()
        await #expect(throws: SpoolError.self) {
            _ = try await Self.mirror([try MirrorEntityType("Page", fields: ["name": .integer])], url: url, directory: directory)
        }
    }
}
