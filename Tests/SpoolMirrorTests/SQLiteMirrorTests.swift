import Foundation
import GRDB
import SpoolCore
import SpoolMirror
import SpoolMirrorSQLite
import SpoolTestSupport
import Testing

/// Units applied to a real SQLite mirror file.
@Suite("SQLite mirror")
struct SQLiteMirrorTests {
    static let page = try! MirrorEntityType("Page", fields: ["name": .string, "slug": .string, "discoveredDate": .date])

    @Test("the seed's scenario: add a page, find exactly its row with the right columns; modify it, delete it")
    func seedScenario() throws {
        let directory = try TemporaryDirectory()
        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: try MirrorSchema([Self.page]),
                                      fileDirectory: URL(fileURLWithPath: directory.path("files")))
        let discovered = Date(timeIntervalSince1970: 1_764_921_600)
        var buffer = OperationBuffer(schema: mirror.schema)
        try buffer.record(.add("Page", "home-page", ["name": .string("Home"), "slug": .string("home-page"), "discoveredDate": .date(discovered)]))
        #expect(try mirror.apply(MirrorUnit(operations: buffer.collapsed)))
        #expect(try mirror.count("Page") == 1)
        #expect(try mirror.row("Page", key: "home-page") == ["name": .string("Home"), "slug": .string("home-page"), "discoveredDate": .date(discovered)])
        #expect(try mirror.apply(MirrorUnit(operations: [.modify("Page", "home-page", ["name": .string("Start")])])))
        #expect(try mirror.row("Page", key: "home-page")?["name"] == .string("Start"))
        #expect(try mirror.apply(MirrorUnit(operations: [.delete("Page", "home-page")])))
        #expect(try mirror.count("Page") == 0)
    }

    @Test("a unit delivered again changes nothing")
    func idempotent() throws {
        let directory = try TemporaryDirectory()
        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: try MirrorSchema([Self.page]),
                                      fileDirectory: URL(fileURLWithPath: directory.path("files")))
        let add = MirrorUnit(operations: [.add("Page", "a", ["name": .string("first")])])
        #expect(try mirror.apply(add))
        #expect(try mirror.apply(MirrorUnit(operations: [.modify("Page", "a", ["name": .string("second")])])))
        #expect(try !mirror.apply(add), "already applied")
        #expect(try mirror.row("Page", key: "a")?["name"] == .string("second"))
    }

    @Test("files are written by content hash, replaced and removed with their rows")
    func files() throws {
        let directory = try TemporaryDirectory()
        let files = URL(fileURLWithPath: directory.path("files"))
        let schema = try MirrorSchema([try MirrorEntityType("Doc", fields: ["body": .file])])
        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: schema, fileDirectory: files)
        func stored() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: files.path).sorted() }
        try mirror.apply(MirrorUnit(operations: [.add("Doc", "d", ["body": .file(Array("one".utf8))]), .add("Doc", "e", ["body": .file(Array("one".utf8))])]))
        #expect(try stored().count == 1, "one file for the same bytes")
        try mirror.apply(MirrorUnit(operations: [.modify("Doc", "d", ["body": .file(Array("two".utf8))])]))
        #expect(try stored().count == 2, "'one' is still named by e")
        #expect(try mirror.row("Doc", key: "d")?["body"] == .file(Array("two".utf8)))
        try mirror.apply(MirrorUnit(operations: [.delete("Doc", "e")]))
        #expect(try stored().count == 1, "'one' is gone with e")
        try mirror.apply(MirrorUnit(operations: [.delete("Doc", "d")]))
        #expect(try stored().isEmpty)
    }

    @Test("a mirror table altered by hand makes a unit fail as one that can never apply, naming why; nothing of it is applied")
    func alteredByHand() throws {
        let directory = try TemporaryDirectory()
        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: try MirrorSchema([Self.page]),
                                      fileDirectory: URL(fileURLWithPath: directory.path("files")))
        try DatabaseQueue(path: directory.path("mirror.db")).write { db in
            try db.execute(sql: #"ALTER TABLE "Page" DROP COLUMN "slug""#)
        }
        let unit = MirrorUnit(operations: [.add("Page", "a", ["name": .string("A")]), .add("Page", "b", ["slug": .string("b")])])
        let error = #expect(throws: SpoolError.self) { try mirror.apply(unit) }
        #expect(error?.message.contains("does not apply") == true && error?.message.contains("slug") == true, "\(String(describing: error))")
        #expect(try mirror.row("Page", key: "a") == nil, "the unit's transaction rolled back whole")
    }

    @Test("a processor applies a batch in one transaction; when the mirror refuses one unit of it, the others are applied and only that one is dead-lettered")
    func batchWithARefusedUnit() async throws {
        let directory = try TemporaryDirectory()
        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: try MirrorSchema([Self.page]),
                                      fileDirectory: URL(fileURLWithPath: directory.path("files")))
        try mirror.apply(MirrorUnit(operations: [.add("Page", "a", [:]), .add("Page", "c", [:])]))
        try await DatabaseQueue(path: directory.path("mirror.db")).write { db in try db.execute(sql: #"ALTER TABLE "Page" DROP COLUMN "slug""#) }
        let transport = InMemoryBroker().endpoint()
        let units = [MirrorUnit(operations: [.modify("Page", "a", ["name": .string("A")])]),
                     MirrorUnit(operations: [.modify("Page", "c", ["slug": .string("c")])]),
                     MirrorUnit(operations: [.modify("Page", "c", ["name": .string("C")])])]
        try await transport.publish(units.map(\.message), to: "mirror")
        var counts = MirrorProcessor.Counts()
        try await MirrorProcessor(transport: transport, destination: "mirror", target: mirror).processBatch(wait: .seconds(1), into: &counts)
        #expect(counts.applied == 2 && counts.deadLettered == 1, "\(counts)")
        #expect(try mirror.row("Page", key: "a")?["name"] == .string("A"))
        #expect(try mirror.row("Page", key: "c")?["name"] == .string("C"))
        let dead = try await transport.receive(from: "mirror.dead", limit: 5, wait: .seconds(1), visibility: .seconds(30))
        #expect(dead.map(\.message.id) == [units[1].id.uuidString.lowercased()])
        #expect(try mirror.status().applied == 3, "the seeding unit and the two that apply")
    }

    @Test("reopened with a field declared since, the column is added; a column of another type is refused")
    func migration() throws {
        let directory = try TemporaryDirectory()
        let files = URL(fileURLWithPath: directory.path("files"))
        _ = try SQLiteMirror(path: directory.path("mirror.db"), schema: try MirrorSchema([Self.page]), fileDirectory: files)
        let grown = try MirrorEntityType("Page", fields: ["name": .string, "slug": .string, "discoveredDate": .date, "views": .integer])
        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: try MirrorSchema([grown]), fileDirectory: files)
        try mirror.apply(MirrorUnit(operations: [.add("Page", "a", ["views": .integer(3)])]))
        #expect(try mirror.row("Page", key: "a")?["views"] == .integer(3))
        let changed = try MirrorEntityType("Page", fields: ["name": .integer])
        let error = #expect(throws: SpoolError.self) {
            _ = try SQLiteMirror(path: directory.path("mirror.db"), schema: try MirrorSchema([changed]), fileDirectory: files)
        }
        #expect(error?.message.contains("column name is TEXT, but the field is declared integer") == true, "\(String(describing: error))")
    }

    @Test("random units applied to the SQLite mirror leave it as the in-memory model")
    func matchesModel() throws {
        let directory = try TemporaryDirectory()
        let mirror = try SQLiteMirror(path: directory.path("mirror.db"), schema: OperationBufferTests.schema,
                                      fileDirectory: URL(fileURLWithPath: directory.path("files")))
        var model = OperationBufferTests.Mirror()
        var random = SeededRandom(seed: 0x5EED)
        let entities = [("Page", "a"), ("Page", "b"), ("Tag", "swift")]
        for _ in 0..<300 {
            var buffer = OperationBuffer(schema: OperationBufferTests.schema)
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                let (type, key) = entities.randomElement(using: &random)!
                let exists = model.rows[type]?[key] != nil
                let views = MirrorValue.integer(Int64.random(in: 0..<9, using: &random))
                let fields: [String: MirrorValue] = type == "Page" ? ["views": views, "name": .string("n\(Int.random(in: 0..<3, using: &random))")]
                    : ["weight": .double(Double(Int.random(in: 0..<4, using: &random)))]
                let operation: MirrorOperation = exists ? (Bool.random(using: &random) ? .modify(type, key, fields) : .delete(type, key)) : .add(type, key, fields)
                guard (try? buffer.record(operation)) != nil else { continue }
                model.apply(operation)
            }
            try mirror.apply(MirrorUnit(operations: buffer.collapsed))
            for (type, key) in entities {
                #expect(try mirror.row(type, key: key) == model.rows[type]?[key], "\(type)/\(key)")
            }
        }
    }
}
