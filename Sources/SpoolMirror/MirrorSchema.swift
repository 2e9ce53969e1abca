import Foundation
import SpoolCore

/// The type of a mirrored field: its column type in the mirror.
public enum MirrorFieldType: String, Sendable, Codable, CaseIterable {
    case string, integer, double, bool, date, json, file
}

/// An entity type mirrored to a table: its name, the field that is its key, and its typed fields.
///
/// ```swift
/// let page = try MirrorEntityType("Page", key: "id", fields: ["name": .string, "slug": .string, "discoveredDate": .date])
/// ```
public struct MirrorEntityType: Sendable, Hashable {
    /// The type's name (the mirror's table name).
    public let name: String
    /// The key field's name; keys are strings.
    public let key: String
    /// The fields besides the key, by name.
    public let fields: [String: MirrorFieldType]

    /// Declares a type; names are letters, digits and `_`, starting with a letter, at most 63.
    public init(_ name: String, key: String = "id", fields: [String: MirrorFieldType]) throws {
        for identifier in [name, key] + fields.keys.sorted() where !Self.isIdentifier(identifier) {
            throw SpoolError(.invalidArgument, "mirror type \(name.prefix(63)): '\(identifier.prefix(63))' is not a name (letters, digits and _, starting with a letter, at most 63)")
        }
        guard fields[key] == nil else { throw SpoolError(.invalidArgument, "mirror type \(name): the key '\(key)' is also among its fields") }
        self.name = name
        self.key = key
        self.fields = fields
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.unicodeScalars.count <= 63,
              first.isASCII, CharacterSet.letters.contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_") }
    }
}

/// The entity types an application mirrors.
public struct MirrorSchema: Sendable {
    /// The types, by name.
    public let types: [String: MirrorEntityType]

    /// A schema of `types`; two types of one name are refused.
    public init(_ types: [MirrorEntityType]) throws {
        var byName: [String: MirrorEntityType] = [:]
        for type in types {
            guard byName.updateValue(type, forKey: type.name) == nil else {
                throw SpoolError(.invalidArgument, "mirror type \(type.name) is declared twice")
            }
        }
        self.types = byName
    }

    /// The type named `name`, or an error naming it.
    public func type(_ name: String) throws -> MirrorEntityType {
        guard let type = types[name] else { throw SpoolError(.invalidArgument, "mirror type '\(name.prefix(63))' is not declared") }
        return type
    }
}
