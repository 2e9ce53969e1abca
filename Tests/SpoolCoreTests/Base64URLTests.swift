import Foundation
import SpoolCore
import Testing

/// The hand-written base64url codec against Foundation's base64 (with RFC 4648 §5's alphabet
/// and no padding), which defines the tokens and cursors Spool has always handed out.
@Suite("Base64URL")
struct Base64URLTests {
    static func foundation(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test("every length from 0 to 64, random bytes: the same text as Foundation's, and back")
    func matchesFoundation() {
        var random = SeededRandom(seed: 7)
        for length in 0...64 {
            for _ in 0..<20 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
                let text = Base64URL.encode(bytes)
                #expect(text == Self.foundation(bytes))
                // The same from raw memory, and from a sequence with no contiguous storage.
                #expect(bytes.withUnsafeBytes { Base64URL.encode($0) } == text)
                #expect(Base64URL.encode(bytes.lazy.map { $0 }) == text)
                #expect(Base64URL.decode(text) == bytes)
            }
        }
    }

    @Test("the RFC 4648 test vectors, unpadded")
    func vectors() {
        let pairs = [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in pairs {
            #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
            #expect(Base64URL.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
    }

    @Test("refused: characters of standard base64 or padding, impossible lengths; unused bits are ignored, as Foundation does")
    func refusals() {
        #expect(Base64URL.decode("ab+c") == nil)
        #expect(Base64URL.decode("ab/c") == nil)
        #expect(Base64URL.decode("Zg==") == nil)
        #expect(Base64URL.decode("Zm9vY") == nil)
        #expect(Base64URL.decode("Zh") == Array("f".utf8), "the last character's unused bits are ignored")
        #expect(Base64URL.decode("Zm9") == Array("fo".utf8))
        #expect(Base64URL.decode("0000000000000000000000") == Data(base64Encoded: "0000000000000000000000==").map(Array.init))
        #expect(Base64URL.decode("Zm é") == nil)
    }
}
