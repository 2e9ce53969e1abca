/// Writes compact JSON text straight into a string, without `JSONEncoder`: the hot paths of
/// the HTTP API and the event stream write every job through it.
///
/// Its output matches `JSONEncoder` with `.sortedKeys` and `.withoutEscapingSlashes` byte for
/// byte, provided the caller writes object members in sorted key order.
public struct JSONWriter: Sendable {
    /// The text written so far.
    public private(set) var text: String
    private var needsComma = false

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        text = ""
        text.reserveCapacity(capacity)
    }

    /// Writes an object: `body` writes its members with ``member(_:)`` before each value.
    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        open("{")
        body(&self)
        close("}")
    }

    /// Writes an array: `body` writes its elements.
    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        open("[")
        body(&self)
        close("]")
    }

    /// Starts the member `key` of the object being written; the next value written is its value.
    public mutating func member(_ key: String) {
        string(key)
        text.append(":")
        needsComma = false
    }

    /// Writes a string, escaped.
    public mutating func string(_ value: String) {
        separate()
        text.append("\"")
        var plainStart = value.utf8.startIndex
        let utf8 = value.utf8
        var index = plainStart
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == 0x22 || byte == 0x5C || byte < 0x20 {
                text.append(contentsOf: value[plainStart..<index])
                text.append(JSONWriter.escape(byte))
                plainStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        text.append(contentsOf: value[plainStart..<utf8.endIndex])
        text.append("\"")
    }

    /// Writes a whole number.
    public mutating func int(_ value: Int) {
        separate()
        text.append(String(value))
    }

    /// Writes a number: whole numbers below 10¹⁵ without a fraction, others as Swift prints
    /// them; a value that is not finite as `null` (JSON has no infinities).
    public mutating func number(_ value: Double) {
        separate()
        if !value.isFinite {
            text.append("null")
        } else if value.rounded() == value, abs(value) < 1e15 {
            text.append(String(Int64(value)))
        } else {
            text.append(value.description)
        }
    }

    /// Writes `true` or `false`.
    public mutating func bool(_ value: Bool) {
        separate()
        text.append(value ? "true" : "false")
    }

    /// Writes `null`.
    public mutating func null() {
        separate()
        text.append("null")
    }

    /// Writes text already known to be one valid JSON document, as it is.
    public mutating func raw(_ json: String) {
        separate()
        text.append(json)
    }

    /// Writes `value`, or `null` when it is `nil`.
    public mutating func optional<T>(_ value: T?, _ write: (inout JSONWriter, T) -> Void) {
        if let value { write(&self, value) } else { null() }
    }

    private mutating func open(_ bracket: String) {
        separate()
        text.append(bracket)
        needsComma = false
    }

    private mutating func close(_ bracket: String) {
        text.append(bracket)
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { text.append(",") }
        needsComma = true
    }

    private static func escape(_ byte: UInt8) -> String {
        switch byte {
        case 0x22: "\\\""
        case 0x5C: "\\\\"
        case 0x08: "\\b"
        case 0x0C: "\\f"
        case 0x0A: "\\n"
        case 0x0D: "\\r"
        case 0x09: "\\t"
        default: "\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
        }
    }
}

extension JSONValue {
    /// Writes the value with its object keys sorted.
    public func write(to writer: inout JSONWriter) {
        switch self {
        case .null: writer.null()
        case .bool(let value): writer.bool(value)
        case .number(let value): writer.number(value)
        case .string(let value): writer.string(value)
        case .array(let elements):
            writer.array { writer in
                for element in elements { element.write(to: &writer) }
            }
        case .object(let members):
            writer.object { writer in
                for key in members.keys.sorted() {
                    writer.member(key)
                    members[key]!.write(to: &writer)
                }
            }
        }
    }
}
