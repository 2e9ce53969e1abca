import Foundation
import SpoolCore

/// The operations of one unit of work, collapsed as they are recorded to the fewest that leave
/// the mirror the same (DESIGN §9):
///
/// | recorded | collapsed |
/// | --- | --- |
/// | add, then modify | one add, with the fields merged |
/// | add, then delete | nothing |
/// | modify, then modify | one modify, with the fields merged (later values win) |
/// | modify, then delete | delete |
/// | delete, then add | a modify that replaces every field: the add's, the others cleared |
///
/// An add of an entity the unit already added or modified, and a modify or delete of one it
/// deleted, are refused: the unit's own history says the entity exists, or does not. Each
/// operation is checked against the schema when recorded. ``collapsed`` lists the entities in
/// the order the unit first touched them.
public struct OperationBuffer: Sendable {
    /// What the unit did to one entity so far.
    private enum Net: Sendable {
        case add([String: MirrorValue])
        case modify([String: MirrorValue])
        case delete
    }

    private struct Entity: Hashable, Sendable {
        var type: String
        var key: String
    }

    /// The declared types operations are checked against.
    public let schema: MirrorSchema
    private var order: [Entity] = []
    private var net: [Entity: Net] = [:]

    /// An empty buffer for `schema`.
    public init(schema: MirrorSchema) {
        self.schema = schema
    }

    /// Whether nothing is left to publish.
    public var isEmpty: Bool { net.isEmpty }

    /// Records `operation`; throws naming what is wrong: an undeclared type or field, a value of
    /// the wrong type, an empty key, or an operation the unit's history contradicts.
    public mutating func record(_ operation: MirrorOperation) throws {
        let type = try schema.type(operation.type)
        guard !operation.key.isEmpty else { throw SpoolError(.invalidArgument, "\(type.name): an operation needs a key") }
        for (name, value) in operation.fields {
            guard let fieldType = type.fields[name] else {
                throw SpoolError(.invalidArgument, "\(type.name) \(operation.key): '\(name.prefix(63))' is not a declared field")
            }
            guard value.fits(fieldType) else {
                throw SpoolError(.invalidArgument, "\(type.name) \(operation.key): field '\(name)' takes a \(fieldType.rawValue)")
            }
        }
        guard operation.kind != .delete || operation.fields.isEmpty else {
            throw SpoolError(.invalidArgument, "\(type.name) \(operation.key): a delete carries no fields")
        }
        let entity = Entity(type: operation.type, key: operation.key)
        let previous = net[entity]
        let next: Net?
        switch (previous, operation.kind) {
        case (nil, .add): next = .add(operation.fields)
        case (nil, .modify): next = .modify(operation.fields)
        case (nil, .delete): next = .delete
        case (.add(let fields)?, .modify): next = .add(fields.merging(operation.fields) { $1 })
        case (.add?, .delete): next = nil
        case (.modify(let fields)?, .modify): next = .modify(fields.merging(operation.fields) { $1 })
        case (.modify?, .delete): next = .delete
        case (.delete?, .add):
            var fields = Dictionary(uniqueKeysWithValues: type.fields.keys.map { ($0, MirrorValue.null) })
            fields.merge(operation.fields) { $1 }
            next = .modify(fields)
        case (.add?, .add), (.modify?, .add):
            throw SpoolError(.invalidArgument, "\(type.name) \(operation.key): added again in the same unit, where it already exists")
        case (.delete?, .modify), (.delete?, .delete):
            throw SpoolError(.invalidArgument, "\(type.name) \(operation.key): \(operation.kind.rawValue) after its delete in the same unit")
        }
        if let next {
            if previous == nil { order.append(entity) }
            net[entity] = next
        } else {
            net[entity] = nil
            order.removeAll { $0 == entity }
        }
    }

    /// The collapsed operations, in the order the unit first touched each entity.
    public var collapsed: [MirrorOperation] {
        order.compactMap { entity in
            switch net[entity] {
            case .add(let fields)?: .add(entity.type, entity.key, fields)
            case .modify(let fields)?: .modify(entity.type, entity.key, fields)
            case .delete?: .delete(entity.type, entity.key)
            case nil: nil
            }
        }
    }
}
