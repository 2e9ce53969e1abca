/// Checks that bytes hold exactly one JSON document (RFC 8259), and reads it into a
/// ``JSONValue`` when asked to, in one pass.
///
/// It never traps on any input: nesting deeper than ``maximumDepth`` is reported as a problem.
enum JSONValidator {
    /// The deepest nesting of arrays and objects accepted.
    static let maximumDepth = 512

    /// `nil` when `bytes` is one valid JSON document; otherwise a description of the first
    /// problem with its byte offset.
    static func firstProblem(in bytes: UnsafeBufferPointer<UInt8>) -> String? {
        do {
            _ = try scan(bytes, building: false)
            return nil
        } catch {
            return error.description
        }
    }

    /// The document `bytes` hold; throws a ``Problem`` naming the first problem and its offset.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(Problem) -> JSONValue {
        try scan(bytes, building: true)
    }

    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>, building: Bool) throws(Problem) -> JSONValue {
        var scanner = Scanner(bytes: bytes, building: building)
        scanner.skipWhitespace()
        let value = try scanner.value(depth: 0)
        scanner.skipWhitespace()
        if scanner.position != bytes.count {
            throw Problem(offset: scanner.position, reason: "unexpected data after the document")
        }
        return value
    }

    /// What is wrong with a document, and where.
    struct Problem: Error, CustomStringConvertible {
        let offset: Int
        let reason: String

        var description: String { "\(reason) at byte \(offset)" }
    }

    /// The text of a string's bytes (between its quotes, already checked) with escapes decoded.
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.count)
        var index = 0
        func hex4(_ at: Int) -> UInt32 {
            raw[at..<(at + 4)].reduce(UInt32(0)) { value, digit in
                let nibble: UInt8 = switch digit {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
                default: digit - UInt8(ascii: "A") + 10
                }
                return value << 4 | UInt32(nibble)
            }
        }
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                index += 1
                continue
            }
            let kind = raw[index + 1]
            index += 2
            switch kind {
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(index)
                index += 4
                if (0xD800..<0xDC00).contains(scalar), index + 6 <= raw.count, raw[index] == UInt8(ascii: "\\"),
                   raw[index + 1] == UInt8(ascii: "u"), case let low = hex4(index + 2), (0xDC00..<0xE000).contains(low) {
                    scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
                    index += 6
                }
                bytes.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
            default: bytes.append(kind)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Walks the bytes; with `building` it returns the values it read, otherwise `.null` for each.
    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let building: Bool
        var position = 0

        init(bytes: UnsafeBufferPointer<UInt8>, building: Bool) {
            self.bytes = bytes
            self.building = building
        }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        func fail(_ reason: String) -> Problem { Problem(offset: position, reason: reason) }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                position += 1
            }
        }

        mutating func value(depth: Int) throws(Problem) -> JSONValue {
            guard let byte = current else { throw fail("unexpected end of input") }
            switch byte {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return try string()
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func object(depth: Int) throws(Problem) -> JSONValue {
            guard depth <= JSONValidator.maximumDepth else { throw fail("nesting deeper than \(JSONValidator.maximumDepth)") }
            position += 1
            skipWhitespace()
            var members: [String: JSONValue] = [:]
            if current == UInt8(ascii: "}") { position += 1; return building ? .object(members) : .null }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try string()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw fail("expected ':'") }
                position += 1
                skipWhitespace()
                let member = try value(depth: depth)
                if building, case .string(let name) = key { members[name] = member }
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "}"): position += 1; return building ? .object(members) : .null
                default: throw fail("expected ',' or '}'")
                }
            }
        }

        mutating func array(depth: Int) throws(Problem) -> JSONValue {
            guard depth <= JSONValidator.maximumDepth else { throw fail("nesting deeper than \(JSONValidator.maximumDepth)") }
            position += 1
            skipWhitespace()
            var elements: [JSONValue] = []
            if current == UInt8(ascii: "]") { position += 1; return building ? .array(elements) : .null }
            while true {
                skipWhitespace()
                let element = try value(depth: depth)
                if building { elements.append(element) }
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"): position += 1; return building ? .array(elements) : .null
                default: throw fail("expected ',' or ']'")
                }
            }
        }

        /// Reads a string; with `building`, decodes its escapes (a lone surrogate becomes U+FFFD).
        mutating func string() throws(Problem) -> JSONValue {
            position += 1
            let start = position
            var escapes = false
            while let byte = current {
                switch byte {
                case UInt8(ascii: "\""):
                    position += 1
                    guard building else { return .null }
                    let raw = UnsafeBufferPointer(rebasing: bytes[start..<(position - 1)])
                    return .string(escapes ? JSONValidator.unescape(raw) : String(decoding: raw, as: UTF8.self))
                case UInt8(ascii: "\\"):
                    escapes = true
                    position += 1
                    guard let escaped = current else { throw fail("unterminated escape") }
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        position += 1
                    case UInt8(ascii: "u"):
                        position += 1
                        for _ in 0..<4 {
                            guard let hex = current, isHexDigit(hex) else { throw fail("invalid \\u escape") }
                            position += 1
                        }
                    default:
                        throw fail("invalid escape")
                    }
                case 0x00..<0x20:
                    throw fail("control character in string")
                default:
                    position += 1
                }
            }
            throw fail("unterminated string")
        }

        mutating func number() throws(Problem) -> JSONValue {
            let start = position
            if current == UInt8(ascii: "-") { position += 1 }
            guard let first = current, isDigit(first) else { throw fail("expected a digit") }
            position += 1
            if first != UInt8(ascii: "0") {
                while let byte = current, isDigit(byte) { position += 1 }
            }
            if current == UInt8(ascii: ".") {
                position += 1
                guard let byte = current, isDigit(byte) else { throw fail("expected a digit after '.'") }
                while let byte = current, isDigit(byte) { position += 1 }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard let byte = current, isDigit(byte) else { throw fail("expected a digit in exponent") }
                while let byte = current, isDigit(byte) { position += 1 }
            }
            guard building else { return .null }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let number = Double(text), number.isFinite else { throw Problem(offset: start, reason: "number out of range") }
            return .number(number)
        }

        mutating func literal(_ word: String) throws(Problem) {
            for expected in word.utf8 {
                guard let byte = current else { throw fail("unexpected end of input") }
                guard byte == expected else { throw fail("invalid literal") }
                position += 1
            }
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        func isHexDigit(_ byte: UInt8) -> Bool {
            isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
        }
    }
}
