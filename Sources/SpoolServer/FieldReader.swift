import Foundation
import SpoolCore

/// Reads the fields of one JSON object strictly: every field must have the expected type, and a
/// field the reader never asked for is an error. Messages name the object (`job`, `jobs[3]`)
/// and the field.
struct FieldReader {
    let object: [String: JSONValue]
    let place: String
    private var known: Set<String> = []

    /// A reader over `value`, which must be an object.
    init(_ value: JSONValue, place: String) throws {
        guard case .object(let object) = value else {
            throw APIError.invalidField("\(place) must be a JSON object")
        }
        self.object = object
        self.place = place
    }

    /// Whether the object has `key` (with any value, `null` included).
    func has(_ key: String) -> Bool { object[key] != nil }

    private mutating func value(_ key: String) -> JSONValue? {
        known.insert(key)
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    /// Any JSON value.
    mutating func json(_ key: String) -> JSONValue? { value(key) }

    /// A string.
    mutating func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw mismatch(key, "a string") }
        return text
    }

    /// A whole number.
    mutating func int(_ key: String) throws -> Int? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value, number.rounded() == number, abs(number) < 9e15 else {
            throw mismatch(key, "a whole number")
        }
        return Int(number)
    }

    /// A finite number.
    mutating func number(_ key: String) throws -> Double? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value, number.isFinite else { throw mismatch(key, "a number") }
        return number
    }

    /// An array of strings.
    mutating func strings(_ key: String) throws -> [String]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else { throw mismatch(key, "an array of strings") }
        return try items.map { item in
            guard case .string(let text) = item else { throw mismatch(key, "an array of strings") }
            return text
        }
    }

    /// Throws for the first field that was never read.
    func rejectUnknownFields() throws {
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            let allowed = known.sorted().joined(separator: ", ")
            throw APIError(.badRequest, "unknown_field", "\(place) has an unknown field '\(unknown)'; known fields are \(allowed)")
        }
    }

    private func mismatch(_ key: String, _ expected: String) -> APIError {
        APIError.invalidField("\(place).\(key) must be \(expected)")
    }
}
