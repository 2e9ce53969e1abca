import Foundation

/// A JSON value as a tree: used where a payload or result is shown inside another document.
public enum JSONValue: Hashable, Sendable, Codable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object; keys keep no order.
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value.rounded() == value, abs(value) < 1e15 {
                try container.encode(Int64(value))
            } else {
                try container.encode(value)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Reads one JSON document; throws ``SpoolError/Code/invalidJSON`` naming the first problem
    /// and its byte offset (a number too large for a `Double` is a problem too).
    public static func parse(_ text: String) throws -> JSONValue {
        var copy = text
        let parsed = copy.withUTF8 { bytes -> Result<JSONValue, JSONValidator.Problem> in
            do throws(JSONValidator.Problem) {
                return .success(try JSONValidator.parse(bytes))
            } catch {
                return .failure(error)
            }
        }
        switch parsed {
        case .success(let value): return value
        case .failure(let problem): throw SpoolError(.invalidJSON, "invalid JSON: \(problem)")
        }
    }

    /// The value written as compact JSON with sorted keys.
    public var compactText: String {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.text
    }

    /// The member `key` of an object, or `nil`.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The value as a number, or `nil`.
    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The value as a string, or `nil`.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}
