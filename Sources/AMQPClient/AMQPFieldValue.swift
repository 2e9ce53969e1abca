/// One value in an AMQP field table or field array, tagged as RabbitMQ encodes it.
///
/// The tag letter of each case is the one RabbitMQ reads and writes (see RabbitMQ's
/// "AMQP 0-9-1 errata"), so headers round-trip through the broker unchanged.
public enum AMQPFieldValue: Hashable, Sendable {
    /// `t`: a boolean.
    case boolean(Bool)
    /// `b`: a signed 8-bit integer.
    case int8(Int8)
    /// `B`: an unsigned 8-bit integer.
    case uint8(UInt8)
    /// `s`: a signed 16-bit integer.
    case int16(Int16)
    /// `u`: an unsigned 16-bit integer.
    case uint16(UInt16)
    /// `I`: a signed 32-bit integer.
    case int32(Int32)
    /// `i`: an unsigned 32-bit integer.
    case uint32(UInt32)
    /// `l`: a signed 64-bit integer.
    case int64(Int64)
    /// `f`: a 32-bit IEEE 754 float.
    case float(Float)
    /// `d`: a 64-bit IEEE 754 double.
    case double(Double)
    /// `D`: a decimal, `value × 10^-scale`.
    case decimal(scale: UInt8, value: UInt32)
    /// `S`: a long string; its bytes, which are usually (not necessarily) UTF-8.
    case longString([UInt8])
    /// `A`: an array of values.
    case array([AMQPFieldValue])
    /// `T`: a timestamp, seconds since the Unix epoch.
    case timestamp(UInt64)
    /// `F`: a nested field table.
    case table(AMQPTable)
    /// `V`: no value.
    case void
    /// `x`: a byte array.
    case bytes([UInt8])

    /// A long string (`S`) holding the UTF-8 bytes of `text`.
    public static func string(_ text: String) -> AMQPFieldValue { .longString(Array(text.utf8)) }

    /// The text of a long string (`S`) that is valid UTF-8; otherwise `nil`.
    public var stringValue: String? {
        guard case .longString(let bytes) = self else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The value's tag octet on the wire.
    var tag: UInt8 {
        switch self {
        case .boolean: UInt8(ascii: "t")
        case .int8: UInt8(ascii: "b")
        case .uint8: UInt8(ascii: "B")
        case .int16: UInt8(ascii: "s")
        case .uint16: UInt8(ascii: "u")
        case .int32: UInt8(ascii: "I")
        case .uint32: UInt8(ascii: "i")
        case .int64: UInt8(ascii: "l")
        case .float: UInt8(ascii: "f")
        case .double: UInt8(ascii: "d")
        case .decimal: UInt8(ascii: "D")
        case .longString: UInt8(ascii: "S")
        case .array: UInt8(ascii: "A")
        case .timestamp: UInt8(ascii: "T")
        case .table: UInt8(ascii: "F")
        case .void: UInt8(ascii: "V")
        case .bytes: UInt8(ascii: "x")
        }
    }
}

/// An AMQP field table: named values in the order they were added or received.
///
/// Used for message headers, declare and bind arguments, and the peers' properties.
///
/// ```swift
/// let headers: AMQPTable = ["uuid": .string(id), "attempt": .int32(2)]
/// ```
public struct AMQPTable: Hashable, Sendable, ExpressibleByDictionaryLiteral, RandomAccessCollection {
    /// One named value.
    public struct Entry: Hashable, Sendable {
        /// The field name, at most 255 bytes of UTF-8.
        public var key: String
        /// The field value.
        public var value: AMQPFieldValue

        /// Creates an entry.
        public init(key: String, value: AMQPFieldValue) {
            self.key = key
            self.value = value
        }
    }

    /// The entries in order.
    public private(set) var entries: [Entry]

    /// Creates a table from entries; later entries win over earlier ones with the same key on lookup.
    public init(_ entries: [Entry] = []) { self.entries = entries }

    /// Creates a table from a literal.
    public init(dictionaryLiteral elements: (String, AMQPFieldValue)...) {
        self.entries = elements.map { Entry(key: $0.0, value: $0.1) }
    }

    /// The position of the first entry.
    public var startIndex: Int { entries.startIndex }
    /// The position past the last entry.
    public var endIndex: Int { entries.endIndex }
    /// The entry at `position`.
    public subscript(position: Int) -> Entry { entries[position] }

    /// The value stored under `key`; setting `nil` removes it, setting a value replaces or appends.
    public subscript(key: String) -> AMQPFieldValue? {
        get { entries.last(where: { $0.key == key })?.value }
        set {
            guard let newValue else {
                entries.removeAll { $0.key == key }
                return
            }
            if let index = entries.lastIndex(where: { $0.key == key }) {
                entries[index].value = newValue
            } else {
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }
}
