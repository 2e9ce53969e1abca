import Foundation
import SpoolCore

/// One committed unit of work as it travels to the processor: its id (which makes applying it
/// idempotent) and its collapsed operations, in order.
///
/// The message body is JSON:
///
/// ```json
/// {"unit": "7d0c…", "operations": [
///   {"op": "add", "type": "Page", "key": "home-page", "fields": {"name": "Home", "views": 3,
///    "discoveredDate": "2026-12-05T10:00:00.000Z", "meta": {"any": "json"}, "logo": "iVBORw0…"}},
///   {"op": "delete", "type": "Page", "key": "old"}]}
/// ```
///
/// Field values are written by their declared type: strings and JSON as themselves, integers
/// and doubles as numbers (an integer beyond ±2^53 as a string of digits), bools, dates as ISO
/// 8601 UTC strings, files as base64, `null` to clear. Reading needs the schema, and names what
/// is wrong with a unit that does not fit it.
public struct MirrorUnit: Sendable, Hashable {
    /// The unit's id.
    public var id: UUID
    /// Its collapsed operations, in order.
    public var operations: [MirrorOperation]
    /// When its unit of work committed, as the publisher says (`"at"`, to the microsecond): the
    /// processor measures the mirror's lag from it.
    public var committedAt: Date?

    /// A unit.
    public init(id: UUID = UUID(), operations: [MirrorOperation], committedAt: Date? = nil) {
        self.id = id
        self.operations = operations
        self.committedAt = committedAt
    }

    /// The entities the unit touches, as ordering keys (`TYPE/KEY`, each once, in order of first
    /// touch): units sharing an entity are applied one at a time, in publish order.
    public var orderKeys: [String] {
        let keys = operations.map { $0.type + "/" + $0.key }
        // A collapsed unit names each entity once; only a unit built by hand may repeat one.
        guard keys.count > 1, Set(keys).count < keys.count else { return keys }
        var seen: Set<String> = []
        return keys.filter { seen.insert($0).inserted }
    }

    /// ``orderKeys`` as the ``orderKeysHeader`` carries them: a JSON array.
    public var orderKeysText: String {
        var writer = JSONWriter(capacity: 16 + operations.count * 32)
        writer.array { w in for key in orderKeys { w.string(key) } }
        return writer.text
    }

    /// The message that carries the unit: its id, JSON body, and ordering keys.
    public var message: TransportMessage {
        TransportMessage(id: id.uuidString.lowercased(), headers: ["content-type": "application/json", orderKeysHeader: orderKeysText], text: json)
    }

    /// The largest integer written as a JSON number (beyond it, precision would be lost).
    static let exactIntegers: Int64 = 1 << 53

    /// The message body.
    public var json: String {
        var writer = JSONWriter(capacity: 64 + operations.count * 128)
        writer.object { writer in
            writer.member("unit"); writer.string(id.uuidString.lowercased())
            if let committedAt { writer.member("at"); writer.string(ISO8601.formatMicroseconds(committedAt)) }
            writer.member("operations")
            writer.array { writer in
                for operation in operations {
                    writer.object { writer in
                        writer.member("op"); writer.string(operation.kind.rawValue)
                        writer.member("type"); writer.string(operation.type)
                        writer.member("key"); writer.string(operation.key)
                        guard operation.kind != .delete else { return }
                        writer.member("fields")
                        writer.object { writer in
                            for name in operation.fields.keys.sorted() {
                                writer.member(name)
                                Self.write(operation.fields[name]!, to: &writer)
                            }
                        }
                    }
                }
            }
        }
        return writer.text
    }

    private static func write(_ value: MirrorValue, to writer: inout JSONWriter) {
        switch value {
        case .null: writer.null()
        case .string(let text): writer.string(text)
        case .integer(let number):
            if number.magnitude <= exactIntegers.magnitude { writer.number(Double(number)) } else { writer.string(String(number)) }
        case .double(let number): writer.number(number)
        case .bool(let flag): writer.bool(flag)
        case .date(let date): writer.string(ISO8601.formatMicroseconds(date))
        case .json(let json): json.write(to: &writer)
        case .file(let bytes): writer.string(Data(bytes).base64EncodedString())
        }
    }

    /// Reads a message body against `schema`; throws ``SpoolError/Code/invalidArgument`` naming
    /// the first thing that does not fit (malformed JSON, a missing member, an undeclared type
    /// or field, a value of the wrong type).
    public init(json text: String, schema: MirrorSchema) throws {
        let document: JSONValue
        do {
            document = try JSONValue.parse(text)
        } catch let error as SpoolError {
            throw SpoolError(.invalidArgument, "mirror unit: \(error.message)")
        }
        guard case .object(let members) = document else { throw SpoolError(.invalidArgument, "mirror unit: not a JSON object") }
        guard let unit = members["unit"]?.string, let id = UUID(uuidString: unit) else {
            throw SpoolError(.invalidArgument, "mirror unit: 'unit' is not a UUID")
        }
        guard case .array(let list)? = members["operations"] else { throw SpoolError(.invalidArgument, "mirror unit \(unit): 'operations' is not an array") }
        var operations: [MirrorOperation] = []
        for (index, item) in list.enumerated() {
            let place = "mirror unit \(unit) operations[\(index)]"
            guard case .object(let fields) = item, let op = fields["op"]?.string.flatMap(MirrorOperation.Kind.init(rawValue:)) else {
                throw SpoolError(.invalidArgument, "\(place): 'op' is not add, modify or delete")
            }
            guard let typeName = fields["type"]?.string, let key = fields["key"]?.string else {
                throw SpoolError(.invalidArgument, "\(place): 'type' and 'key' must be strings")
            }
            let type = try schema.type(typeName)
            var values: [String: MirrorValue] = [:]
            if op != .delete {
                guard case .object(let given)? = fields["fields"] else { throw SpoolError(.invalidArgument, "\(place): 'fields' is not an object") }
                for (name, value) in given {
                    guard let fieldType = type.fields[name] else {
                        throw SpoolError(.invalidArgument, "\(place): '\(name.prefix(63))' is not a declared field of \(type.name)")
                    }
                    guard let read = Self.read(value, as: fieldType) else {
                        throw SpoolError(.invalidArgument, "\(place): field '\(name)' of \(type.name) takes a \(fieldType.rawValue)")
                    }
                    values[name] = read
                }
            }
            operations.append(MirrorOperation(kind: op, type: typeName, key: key, fields: values))
        }
        var committedAt: Date?
        if let at = members["at"], at != .null {
            guard let text = at.string, let date = ISO8601.parse(text) else {
                throw SpoolError(.invalidArgument, "mirror unit \(unit): 'at' is not an ISO 8601 time")
            }
            committedAt = date
        }
        self.init(id: id, operations: operations, committedAt: committedAt)
    }

    private static func read(_ value: JSONValue, as type: MirrorFieldType) -> MirrorValue? {
        if value == .null { return .null }
        switch (type, value) {
        case (.string, .string(let text)): return .string(text)
        case (.integer, .number(let number)):
            guard number.rounded() == number, abs(number) <= Double(exactIntegers) else { return nil }
            return .integer(Int64(number))
        case (.integer, .string(let text)): return Int64(text).map(MirrorValue.integer)
        case (.double, .number(let number)): return .double(number)
        case (.bool, .bool(let flag)): return .bool(flag)
        case (.date, .string(let text)): return ISO8601.parse(text).map(MirrorValue.date)
        case (.json, _): return .json(value)
        case (.file, .string(let text)): return Data(base64Encoded: text).map { .file(Array($0)) }
        default: return nil
        }
    }
}
