import Foundation
@testable import SQSClient
import SpoolCore
import Testing

/// The hand-written parser of SQS answers reads what Foundation's JSON parser reads, value for
/// value, and refuses what it refuses; the answer readers name the field that is wrong.
@Suite("SQS answer parsing")
struct AnswerJSONTests {
    /// The same value as Foundation's reading of the same text.
    static func matches(_ parsed: AnswerJSON, _ foundation: Any) -> Bool {
        switch parsed {
        case .null: return foundation is NSNull
        case .bool(let value): return (foundation as? Bool) == value && !(foundation is Int && !(foundation is Bool))
        case .number(let value): return (foundation as? NSNumber)?.doubleValue == value
        case .string(let value): return (foundation as? String) == value
        case .array(let elements):
            guard let other = foundation as? [Any], other.count == elements.count else { return false }
            return zip(elements, other).allSatisfy { matches($0, $1) }
        case .object(let members):
            guard let other = foundation as? [String: Any], other.count == members.count else { return false }
            return members.allSatisfy { key, value in other[key].map { matches(value, $0) } ?? false }
        }
    }

    static func randomValue(_ random: inout SeededRandom, depth: Int = 0) -> String {
        let texts = ["", "a", "h\\u00e9llo", "\\ud83d\\ude00", "\\\"q\\\"", "tab\\tnew\\nline", "ü中", "\\/", "\\\\"]
        switch Int.random(in: 0...(depth > 3 ? 3 : 5), using: &random) {
        case 0: return ["true", "false", "null"].randomElement(using: &random)!
        case 1: return ["0", "-1", "3.25", "1e3", "12345678901"].randomElement(using: &random)!
        case 2, 3: return "\"" + texts.randomElement(using: &random)! + "\""
        case 4: return "[" + (0..<Int.random(in: 0...3, using: &random)).map { _ in randomValue(&random, depth: depth + 1) }.joined(separator: ", ") + "]"
        default:
            let members = (0..<Int.random(in: 0...3, using: &random)).map { index in "\"k\(index)\" : " + randomValue(&random, depth: depth + 1) }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    @Test("random documents read as Foundation reads them")
    func sameAsFoundation() throws {
        var random = SeededRandom(seed: 0x4A_50)
        for _ in 0..<2_000 {
            let text = Self.randomValue(&random)
            let parsed = try AnswerJSON.parse(Array(text.utf8))
            let foundation = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)
            #expect(Self.matches(parsed, foundation), "\(text)")
        }
    }

    @Test("escapes, surrogate pairs and unpaired surrogates")
    func escapes() throws {
        #expect(try AnswerJSON.parse(Array(#""a\"b\\c\/d\b\f\n\r\t""#.utf8)) == .string("a\"b\\c/d\u{8}\u{C}\n\r\t"))
        #expect(try AnswerJSON.parse(Array(#""\ud83d\ude00 \u00e9""#.utf8)) == .string("😀 é"))
        #expect(try AnswerJSON.parse(Array(#""\ud83d x""#.utf8)) == .string("\u{FFFD} x"))
    }

    @Test("malformed text is refused, never trapped on")
    func malformed() {
        for text in ["", "{", "[1,", #"{"a" 1}"#, #"{"a":1,}"#, "tru", "nul", "1.2.3", #""abc"#, #""\x""#, #""\u12""#, "{} {}", "-", "1e999",
                     String(repeating: "[", count: 100) + String(repeating: "]", count: 100)] {
            #expect(throws: AnswerProblem.self, "\(text.prefix(20))") { _ = try AnswerJSON.parse(Array(text.utf8)) }
        }
    }

    @Test("answers name the field that is wrong")
    func readers() throws {
        let message = #"{"Messages":[{"MessageId":"m","ReceiptHandle":"r","Body":"b","Attributes":{"ApproximateReceiveCount":"3"},"MessageAttributes":{"x":{"DataType":"Binary","BinaryValue":"AAE="},"y":{"DataType":"String","StringValue":"v"}}}]}"#
        let received = try Received(answer: AnswerJSON.parse(Array(message.utf8)))
        let first = try #require(received.Messages?.first)
        #expect(first.messageID == "m" && first.receiptHandle == "r" && first.body == "b" && first.receiveCount == 3)
        #expect(first.attributes == ["x": .binary(Data([0, 1])), "y": .string("v")])
        for (text, named) in [(#"{"Messages":[{"MessageId":"m"}]}"#, "Messages[0].ReceiptHandle is missing"),
                              (#"{"Messages":[{"MessageId":7,"ReceiptHandle":"r"}]}"#, "Messages[0].MessageId is not a string"),
                              (#"{"Messages":{}}"#, "Messages is not an array")] {
            let error = #expect(throws: AnswerProblem.self) { _ = try Received(answer: AnswerJSON.parse(Array(text.utf8))) }
            #expect(error?.description.contains(named) == true, "\(String(describing: error))")
        }
        let batch = try BatchAnswer(answer: AnswerJSON.parse(Array(#"{"Successful":[{"Id":"0","MessageId":"a"}],"Failed":[{"Id":"1","Code":"X","SenderFault":true}]}"#.utf8)))
        #expect(batch.result == SQSBatchResult(succeeded: ["0": "a"], failed: [.init(id: "1", code: "X", message: "", senderFault: true)]))
    }
}
