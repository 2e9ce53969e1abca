import Foundation
import SpoolCore
import Testing

@Suite("JSON payloads")
struct JSONPayloadTests {
    @Test("valid documents are accepted as they are", arguments: [
        "{}", "[]", "0", "-0.5e+10", "\"x\\u00e9\\n\"", "true", "null", " {\"a\" : [1, 2.5, {\"b\": null}], \"c\": \"\\\"\"} ",
    ])
    func valid(_ text: String) throws {
        #expect(try JSONPayload(validating: text).text == text)
    }

    @Test("malformed documents are refused with the problem and its offset", arguments: [
        ("", "unexpected end of input at byte 0"), ("{", "expected a string key at byte 1"), ("[1,]", "unexpected character at byte 3"),
        ("01", "unexpected data after the document at byte 1"), ("\"a\tb\"", "control character in string at byte 2"),
        ("{\"a\" 1}", "expected ':' at byte 5"), ("tru", "unexpected end of input at byte 3"), ("1.", "expected a digit after '.' at byte 2"),
        ("\"\\x\"", "invalid escape at byte 2"), ("[1] [2]", "unexpected data after the document at byte 4"),
    ])
    func malformed(_ text: String, _ problem: String) throws {
        let error = #expect(throws: SpoolError.self) { try JSONPayload(validating: text) }
        #expect(error?.code == .invalidJSON)
        #expect(error?.message == "invalid JSON: \(problem)")
    }

    @Test("nesting deeper than the limit is refused, not a crash")
    func deepNesting() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = #expect(throws: SpoolError.self) { try JSONPayload(validating: deep) }
        #expect(error?.message.contains("nesting deeper than 512") == true)
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { try JSONPayload(validating: fine) }
    }

    /// Foundation accepts trailing commas, which RFC 8259 forbids; that is the one allowed difference.
    @Test("the validator agrees with Foundation's parser on 20,000 mutated documents")
    func agreesWithFoundation() async throws {
        var random = SeededRandom(seed: 42)
        let seeds = [#"{"a":[1,2,{"b":"c\n"}],"d":-1.5e3,"e":true,"f":null}"#, #"[0,"\u00e9",[],{}]"#, #""x\"y""#, "123"]
        let alphabet = Array("{}[]\",:.-+eE0123456789truefalsn \\u\t\n".utf8)
        var agreed = 0
        for round in 0..<20_000 {
            // Hand the thread back now and then: the suite runs beside tests waiting on real servers.
            if round % 200 == 0 { await Task.yield() }
            var bytes = Array(seeds[Int(random.next() % UInt64(seeds.count))].utf8)
            for _ in 0..<(1 + Int(random.next() % 3)) {
                let position = Int(random.next() % UInt64(bytes.count + 1))
                switch random.next() % 3 {
                case 0: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
                case 1: if position < bytes.count { bytes.remove(at: position) }
                default: if position < bytes.count { bytes[position] = alphabet[Int(random.next() % UInt64(alphabet.count))] }
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let ours = (try? JSONPayload(validating: text)) != nil
            let foundation = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil
            let squeezed = String(text.filter { !" \n\t\r".contains($0) })
            let trailingComma = squeezed.contains(",]") || squeezed.contains(",}")
            let agrees = ours == foundation || (foundation && trailingComma)
            #expect(agrees, "disagree on \(text)")
            if agrees { agreed += 1 }
        }
        #expect(agreed == 20_000)
    }

    @Test("random bytes never crash the validator")
    func randomBytes() async {
        var random = SeededRandom(seed: 7)
        for round in 0..<20_000 {
            if round % 200 == 0 { await Task.yield() }
            let bytes = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            _ = try? JSONPayload(validating: String(decoding: bytes, as: UTF8.self))
        }
    }
}
