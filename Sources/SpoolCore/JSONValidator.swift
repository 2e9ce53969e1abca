/// Checks that bytes hold exactly one JSON document (RFC 8259) without building it.
///
/// It never traps on any input: nesting deeper than ``maximumDepth`` is reported as a problem.
enum JSONValidator {
    /// The deepest nesting of arrays and objects accepted.
    static let maximumDepth = 512

    /// `nil` when `bytes` is one valid JSON document; otherwise a description of the first
    /// problem with its byte offset.
    static func firstProblem(in bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var scanner = Scanner(bytes: bytes)
        do {
            scanner.skipWhitespace()
            try scanner.value(depth: 0)
            scanner.skipWhitespace()
            if scanner.position != bytes.count {
                throw Problem(offset: scanner.position, reason: "unexpected data after the document")
            }
            return nil
        } catch let problem as Problem {
            return "\(problem.reason) at byte \(problem.offset)"
        } catch {
            return "\(error)"
        }
    }

    private struct Problem: Error {
        let offset: Int
        let reason: String
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        func fail(_ reason: String) -> Problem { Problem(offset: position, reason: reason) }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                position += 1
            }
        }

        mutating func value(depth: Int) throws {
            guard let byte = current else { throw fail("unexpected end of input") }
            switch byte {
            case UInt8(ascii: "{"): try object(depth: depth + 1)
            case UInt8(ascii: "["): try array(depth: depth + 1)
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func object(depth: Int) throws {
            guard depth <= JSONValidator.maximumDepth else { throw fail("nesting deeper than \(JSONValidator.maximumDepth)") }
            position += 1
            skipWhitespace()
            if current == UInt8(ascii: "}") { position += 1; return }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                try string()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw fail("expected ':'") }
                position += 1
                skipWhitespace()
                try value(depth: depth)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "}"): position += 1; return
                default: throw fail("expected ',' or '}'")
                }
            }
        }

        mutating func array(depth: Int) throws {
            guard depth <= JSONValidator.maximumDepth else { throw fail("nesting deeper than \(JSONValidator.maximumDepth)") }
            position += 1
            skipWhitespace()
            if current == UInt8(ascii: "]") { position += 1; return }
            while true {
                skipWhitespace()
                try value(depth: depth)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"): position += 1; return
                default: throw fail("expected ',' or ']'")
                }
            }
        }

        mutating func string() throws {
            position += 1
            while let byte = current {
                switch byte {
                case UInt8(ascii: "\""):
                    position += 1
                    return
                case UInt8(ascii: "\\"):
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

        mutating func number() throws {
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
        }

        mutating func literal(_ word: String) throws {
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
