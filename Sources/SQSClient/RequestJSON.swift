/// The JSON text of a request body, written field by field: SQS requests are a few flat shapes,
/// and writing them directly costs a fraction of a general-purpose encoder.
struct RequestJSON {
    private(set) var bytes: [UInt8] = []
    /// Whether the innermost open object or array has a member yet.
    private var hasMember: [Bool] = []

    init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    /// Writes `body` as an object, standing alone or as a value in the enclosing object or array.
    mutating func object(_ body: (inout RequestJSON) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "{"))
        hasMember.append(false)
        body(&self)
        hasMember.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    /// Writes a member whose value `body` writes (an object or an array).
    mutating func member(_ name: String, _ body: (inout RequestJSON) -> Void) {
        key(name)
        hasMember[hasMember.count - 1] = false
        body(&self)
        hasMember[hasMember.count - 1] = true
    }

    /// Writes an array member of objects, one per element.
    mutating func array<Element>(_ name: String, _ elements: [Element], _ write: (inout RequestJSON, Element) -> Void) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        hasMember.append(false)
        for element in elements { write(&self, element) }
        hasMember.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes a string member; nothing when `value` is `nil`.
    mutating func field(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    /// Writes an integer member; nothing when `value` is `nil`.
    mutating func field(_ name: String, _ value: Int?) {
        guard let value else { return }
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Writes an array member of strings.
    mutating func field(_ name: String, _ values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes an object member of string values, in sorted order; nothing when `values` is `nil`.
    mutating func field(_ name: String, _ values: [String: String]?) {
        guard let values else { return }
        member(name) { json in
            json.object { json in
                for key in values.keys.sorted() { json.field(key, values[key]) }
            }
        }
    }

    private mutating func separate() {
        guard !hasMember.isEmpty else { return }
        if hasMember[hasMember.count - 1] { bytes.append(UInt8(ascii: ",")) }
        hasMember[hasMember.count - 1] = true
    }

    private mutating func key(_ name: String) {
        separate()
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\u00XX`, the rest as UTF-8.
    private mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0..<0x20:
                let digits = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8) + [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// A request body SQS's JSON protocol takes.
protocol SQSRequest {
    /// Writes the body's fields into the object `json` has open.
    func write(to json: inout RequestJSON)
}

extension SQSRequest {
    /// The body as JSON text.
    var json: [UInt8] {
        var json = RequestJSON()
        json.object { write(to: &$0) }
        return json.bytes
    }
}
