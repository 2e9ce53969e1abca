import Foundation

/// A JSON document kept as its UTF-8 text: payloads and results travel through Spool without
/// being decoded, and are checked once, when they enter.
public struct JSONPayload: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The JSON text.
    public let text: String

    /// The JSON `null` document.
    public static let null = JSONPayload(unchecked: "null")
    /// An empty JSON object.
    public static let emptyObject = JSONPayload(unchecked: "{}")

    /// Checks `text` and keeps it; throws ``SpoolError/Code/invalidJSON`` naming the first
    /// problem and its byte offset when it is not one valid JSON document.
    public init(validating text: String) throws {
        var copy = text
        let problem = copy.withUTF8 { JSONValidator.firstProblem(in: $0) }
        if let problem {
            throw SpoolError(.invalidJSON, "invalid JSON: \(problem)")
        }
        self.text = copy
    }

    /// Keeps text already known to be valid JSON (read back from a store, or written by Spool).
    public init(unchecked text: String) { self.text = text }

    /// A string literal is assumed to be valid JSON; use it only for constants.
    public init(stringLiteral value: String) { self.text = value }

    /// Encodes a value with `JSONEncoder`.
    public init<T: Encodable>(encoding value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(value)
        self.text = String(decoding: data, as: UTF8.self)
    }

    /// Decodes the document into `T`.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: Data(text.utf8))
    }

    /// The size of the UTF-8 text in bytes.
    public var byteCount: Int { text.utf8.count }

    /// The document as a tree, for rendering inside other documents.
    public var value: JSONValue {
        (try? JSONValue.parse(text)) ?? .string(text)
    }

    public var description: String { text }
}

extension JSONPayload: Codable {
    /// Decodes any JSON value and keeps its compact text.
    public init(from decoder: Decoder) throws {
        let value = try JSONValue(from: decoder)
        self.init(unchecked: value.compactText)
    }

    /// Encodes the document as a nested JSON value, not as a string.
    public func encode(to encoder: Encoder) throws {
        try value.encode(to: encoder)
    }
}
