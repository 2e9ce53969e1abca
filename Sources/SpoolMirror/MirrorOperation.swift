import Foundation
import SpoolCore

/// A field's value in a mirror operation; `null` clears it.
public enum MirrorValue: Sendable, Hashable {
    case null
    case string(String)
    case integer(Int64)
    case double(Double)
    case bool(Bool)
    case date(Date)
    case json(JSONValue)
    /// A file's bytes (written under the mirror's file directory by content hash).
    case file([UInt8])

    /// Whether the value fits a field of `type` (`null` fits every type; a double must be finite).
    func fits(_ type: MirrorFieldType) -> Bool {
        switch (self, type) {
        case (.double(let number), .double): number.isFinite
        case (.null, _), (.string, .string), (.integer, .integer), (.bool, .bool), (.date, .date), (.json, .json), (.file, .file): true
        default: false
        }
    }
}

/// What happened to one entity: added with its fields, modified (the fields given), or deleted.
public struct MirrorOperation: Sendable, Hashable {
    /// The kind of change.
    public enum Kind: String, Sendable, Hashable, Codable {
        case add, modify, delete
    }

    /// The kind of change.
    public var kind: Kind
    /// The entity's type name.
    public var type: String
    /// The entity's key.
    public var key: String
    /// The fields set (none for a delete). An add leaves the fields it does not give empty; a
    /// modify changes only those it gives.
    public var fields: [String: MirrorValue]

    /// An entity added with `fields`.
    public static func add(_ type: String, _ key: String, _ fields: [String: MirrorValue]) -> MirrorOperation {
        MirrorOperation(kind: .add, type: type, key: key, fields: fields)
    }

    /// An entity whose `fields` changed.
    public static func modify(_ type: String, _ key: String, _ fields: [String: MirrorValue]) -> MirrorOperation {
        MirrorOperation(kind: .modify, type: type, key: key, fields: fields)
    }

    /// An entity deleted.
    public static func delete(_ type: String, _ key: String) -> MirrorOperation {
        MirrorOperation(kind: .delete, type: type, key: key, fields: [:])
    }
}
