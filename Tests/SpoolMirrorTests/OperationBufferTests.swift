import Foundation
import SpoolCore
import SpoolMirror
import Testing

/// The collapse rules of a unit's operations, one by one, and a property test: applying the
/// collapsed operations leaves a mirror exactly as applying every recorded operation would.
@Suite("Mirror operation buffer")
struct OperationBufferTests {
    static let schema = try! MirrorSchema([
        try! MirrorEntityType("Page", fields: ["name": .string, "slug": .string, "views": .integer, "discoveredDate": .date]),
        try! MirrorEntityType("Tag", key: "label", fields: ["weight": .double]),
    ])

    static func collapse(_ operations: [MirrorOperation]) throws -> [MirrorOperation] {
        var buffer = OperationBuffer(schema: schema)
        for operation in operations { try buffer.record(operation) }
        return buffer.collapsed
    }

    @Test("add then modify is one add with the fields merged")
    func addModify() throws {
        #expect(try Self.collapse([.add("Page", "home", ["name": .string("Home"), "views": .integer(1)]),
                                   .modify("Page", "home", ["views": .integer(2), "slug": .string("home")])])
            == [.add("Page", "home", ["name": .string("Home"), "views": .integer(2), "slug": .string("home")])])
    }

    @Test("add then delete is nothing")
    func addDelete() throws {
        #expect(try Self.collapse([.add("Page", "home", ["name": .string("Home")]), .delete("Page", "home")]).isEmpty)
    }

    @Test("modify then delete is delete")
    func modifyDelete() throws {
        #expect(try Self.collapse([.modify("Page", "home", ["views": .integer(3)]), .delete("Page", "home")]) == [.delete("Page", "home")])
    }

    @Test("modify then modify is one modify, later values winning")
    func modifyModify() throws {
        #expect(try Self.collapse([.modify("Page", "home", ["views": .integer(3), "name": .string("A")]), .modify("Page", "home", ["views": .integer(4)])])
            == [.modify("Page", "home", ["views": .integer(4), "name": .string("A")])])
    }

    @Test("delete then add is a modify replacing every field: the add's, the others cleared")
    func deleteAdd() throws {
        #expect(try Self.collapse([.delete("Page", "home"), .add("Page", "home", ["name": .string("New")])])
            == [.modify("Page", "home", ["name": .string("New"), "slug": .null, "views": .null, "discoveredDate": .null])])
    }

    @Test("entities keep the order the unit first touched them; others are independent")
    func order() throws {
        let collapsed = try Self.collapse([
            .modify("Page", "b", ["views": .integer(1)]), .add("Tag", "swift", ["weight": .double(0.5)]),
            .modify("Page", "a", ["views": .integer(2)]), .modify("Page", "b", ["views": .integer(3)]),
        ])
        #expect(collapsed.map { "\($0.type)/\($0.key)" } == ["Page/b", "Tag/swift", "Page/a"])
    }

    @Test("what the schema or the unit's own history contradicts is refused, naming it")
    func refused() throws {
        let cases: [([MirrorOperation], String)] = [
            ([.add("Post", "x", [:])], "'Post' is not declared"),
            ([.add("Page", "x", ["title": .string("t")])], "'title' is not a declared field"),
            ([.add("Page", "x", ["views": .string("many")])], "field 'views' takes a integer"),
            ([.add("Page", "", [:])], "needs a key"),
            ([.add("Page", "x", [:]), .add("Page", "x", [:])], "added again"),
            ([.modify("Page", "x", [:]), .add("Page", "x", [:])], "added again"),
            ([.delete("Page", "x"), .modify("Page", "x", [:])], "modify after its delete"),
            ([.delete("Page", "x"), .delete("Page", "x")], "delete after its delete"),
        ]
        for (operations, named) in cases {
            let error = #expect(throws: SpoolError.self) { _ = try Self.collapse(operations) }
            #expect(error?.message.contains(named) == true, "\(operations): \(String(describing: error))")
        }
        let type = #expect(throws: SpoolError.self) { _ = try MirrorEntityType("1bad", fields: [:]) }
        #expect(type?.message.contains("is not a name") == true)
    }

    /// A mirror in memory: rows by type and key. An add writes a whole row (fields it does not
    /// give are null); a modify changes the fields it gives of an existing row; a delete removes it.
    struct Mirror: Equatable {
        var rows: [String: [String: [String: MirrorValue]]] = [:]

        mutating func apply(_ operation: MirrorOperation) {
            let declared = OperationBufferTests.schema.types[operation.type]!.fields.keys
            switch operation.kind {
            case .add:
                var row = Dictionary(uniqueKeysWithValues: declared.map { ($0, MirrorValue.null) })
                row.merge(operation.fields) { $1 }
                rows[operation.type, default: [:]][operation.key] = row
            case .modify:
                guard rows[operation.type]?[operation.key] != nil else { return }
                rows[operation.type]![operation.key]!.merge(operation.fields) { $1 }
            case .delete:
                rows[operation.type]?[operation.key] = nil
                if rows[operation.type]?.isEmpty == true { rows[operation.type] = nil }
            }
        }
    }

    @Test("applying the collapsed set equals applying every operation, over 3,000 random units", arguments: 0..<3)
    func property(_ round: Int) throws {
        var random = SeededRandom(seed: UInt64(0x3117 + round))
        func value(_ type: MirrorFieldType) -> MirrorValue {
            if Int.random(in: 0..<6, using: &random) == 0 { return .null }
            switch type {
            case .string: return .string(["a", "b", "c"].randomElement(using: &random)!)
            case .integer: return .integer(Int64.random(in: 0..<4, using: &random))
            case .double: return .double(Double(Int.random(in: 0..<4, using: &random)) / 2)
            case .date: return .date(Date(timeIntervalSince1970: Double(Int.random(in: 0..<3, using: &random))))
            default: return .null
            }
        }
        func fields(_ type: MirrorEntityType) -> [String: MirrorValue] {
            var fields: [String: MirrorValue] = [:]
            for (name, fieldType) in type.fields where Bool.random(using: &random) { fields[name] = value(fieldType) }
            return fields
        }
        let entities = [("Page", "a"), ("Page", "b"), ("Tag", "swift")]
        for _ in 0..<1_000 {
            var start = Mirror()
            for (typeName, key) in entities where Bool.random(using: &random) {
                start.apply(.add(typeName, key, fields(Self.schema.types[typeName]!)))
            }
            var exists = Dictionary(uniqueKeysWithValues: entities.map { ("\($0.0)/\($0.1)", start.rows[$0.0]?[$0.1] != nil) })
            var operations: [MirrorOperation] = []
            for _ in 0..<Int.random(in: 1...10, using: &random) {
                let (typeName, key) = entities.randomElement(using: &random)!
                let type = Self.schema.types[typeName]!
                let name = "\(typeName)/\(key)"
                if exists[name]! {
                    if Bool.random(using: &random) {
                        operations.append(.modify(typeName, key, fields(type)))
                    } else {
                        operations.append(.delete(typeName, key))
                        exists[name] = false
                    }
                } else {
                    operations.append(.add(typeName, key, fields(type)))
                    exists[name] = true
                }
            }
            var oneByOne = start, collapsedMirror = start
            for operation in operations { oneByOne.apply(operation) }
            let collapsed = try Self.collapse(operations)
            for operation in collapsed { collapsedMirror.apply(operation) }
            #expect(collapsedMirror == oneByOne, "\(operations) collapsed to \(collapsed)")
            #expect(collapsed.count <= Set(operations.map { "\($0.type)/\($0.key)" }).count, "at most one operation per entity")
            try #require(collapsedMirror == oneByOne)
        }
    }
}
