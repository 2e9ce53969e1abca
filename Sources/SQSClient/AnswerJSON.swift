/// A JSON value of an SQS answer, parsed by hand: answers are small documents of a few known
/// shapes, and reading them directly costs a fraction of `JSONDecoder` (about a tenth of the
/// client's time receiving went there). Whatever the bytes, parsing returns or throws.
enum AnswerJSON: Equatable {
    case object([String: AnswerJSON])
    case array([AnswerJSON])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    /// The deepest nesting accepted.
    static let maximumDepth = 64

    /// Parses a whole document.
    static func parse(_ bytes: [UInt8]) throws(AnswerProblem) -> AnswerJSON {
        var parser = Parser(bytes: bytes)
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == bytes.count else { throw AnswerProblem("text after the document at byte \(parser.index)") }
        return value
    }

    /// The member `key` of an object (`nil` for a missing member, `null`, or a non-object).
    subscript(key: String) -> AnswerJSON? {
        guard case .object(let members) = self, let value = members[key], value != .null else { return nil }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func value(depth: Int) throws(AnswerProblem) -> AnswerJSON {
            guard depth < AnswerJSON.maximumDepth else { throw AnswerProblem("nested deeper than \(AnswerJSON.maximumDepth)") }
            skipSpace()
            guard index < bytes.count else { throw AnswerProblem("the document ends early") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default: return try number()
            }
        }

        private mutating func object(depth: Int) throws(AnswerProblem) -> AnswerJSON {
            index += 1
            var members: [String: AnswerJSON] = [:]
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw AnswerProblem("a member name expected at byte \(index)") }
                let key = try string()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw AnswerProblem("':' expected at byte \(index)") }
                index += 1
                members[key] = try value(depth: depth + 1)
                skipSpace()
                guard index < bytes.count else { throw AnswerProblem("the document ends inside an object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "}") else { throw AnswerProblem("',' or '}' expected at byte \(index)") }
                index += 1
                return .object(members)
            }
        }

        private mutating func array(depth: Int) throws(AnswerProblem) -> AnswerJSON {
            index += 1
            var elements: [AnswerJSON] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                elements.append(try value(depth: depth + 1))
                skipSpace()
                guard index < bytes.count else { throw AnswerProblem("the document ends inside an array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "]") else { throw AnswerProblem("',' or ']' expected at byte \(index)") }
                index += 1
                return .array(elements)
            }
        }

        private mutating func literal(_ word: String, _ value: AnswerJSON) throws(AnswerProblem) -> AnswerJSON {
            let expected = Array(word.utf8)
            guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected else {
                throw AnswerProblem("unexpected text at byte \(index)")
            }
            index += expected.count
            return value
        }

        private mutating func number() throws(AnswerProblem) -> AnswerJSON {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index])
                    || [UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
                index += 1
            }
            guard index > start, let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)), value.isFinite else {
                throw AnswerProblem("unexpected text at byte \(start)")
            }
            return .number(value)
        }

        /// A string, from its opening quote: escapes decoded (an unpaired surrogate becomes U+FFFD).
        private mutating func string() throws(AnswerProblem) -> String {
            index += 1
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\") { index += 1 }
            guard index < bytes.count else { throw AnswerProblem("the document ends inside a string") }
            if bytes[index] == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: bytes[start..<index - 1], as: UTF8.self)
            }
            var out = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { break }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"): out.append(contentsOf: String(try unicodeEscape()).utf8)
                    default: throw AnswerProblem("unknown escape at byte \(index - 2)")
                    }
                default: out.append(byte)
                }
            }
            throw AnswerProblem("the document ends inside a string")
        }

        /// The character of a `\uXXXX` escape (after the `u`), joining a surrogate pair.
        private mutating func unicodeEscape() throws(AnswerProblem) -> Character {
            let high = try hex4()
            if (0xD800...0xDBFF).contains(high), bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                let saved = index
                index += 2
                let low = try hex4()
                if (0xDC00...0xDFFF).contains(low), let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) {
                    return Character(scalar)
                }
                index = saved
            }
            return Character(Unicode.Scalar(high) ?? "\u{FFFD}")
        }

        private mutating func hex4() throws(AnswerProblem) -> UInt32 {
            guard bytes.count - index >= 4, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
                throw AnswerProblem("a malformed \\u escape at byte \(index)")
            }
            index += 4
            return value
        }
    }
}

/// Why an answer is not what SQS sends.
struct AnswerProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// An answer SQS's JSON protocol sends, read from its parsed document.
protocol SQSAnswer {
    init(answer: AnswerJSON) throws(AnswerProblem)
}

extension AnswerJSON {
    /// The member `key`, which must be a string.
    func string(_ key: String, in place: String) throws(AnswerProblem) -> String? {
        guard let value = self[key] else { return nil }
        guard case .string(let text) = value else { throw AnswerProblem("\(place).\(key) is not a string") }
        return text
    }

    /// The member `key`, which must be there and a string.
    func requiredString(_ key: String, in place: String) throws(AnswerProblem) -> String {
        guard let text = try string(key, in: place) else { throw AnswerProblem("\(place).\(key) is missing") }
        return text
    }

    /// The member `key`, which must be an object of strings.
    func strings(_ key: String, in place: String) throws(AnswerProblem) -> [String: String]? {
        guard let value = self[key] else { return nil }
        guard case .object(let members) = value else { throw AnswerProblem("\(place).\(key) is not an object") }
        var strings: [String: String] = [:]
        for (name, member) in members {
            guard case .string(let text) = member else { throw AnswerProblem("\(place).\(key).\(name) is not a string") }
            strings[name] = text
        }
        return strings
    }

    /// The member `key`, which must be an array.
    func array(_ key: String, in place: String) throws(AnswerProblem) -> [AnswerJSON]? {
        guard let value = self[key] else { return nil }
        guard case .array(let elements) = value else { throw AnswerProblem("\(place).\(key) is not an array") }
        return elements
    }
}
