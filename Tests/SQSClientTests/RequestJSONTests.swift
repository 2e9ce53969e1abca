import Foundation
@testable import SQSClient
import SpoolCore
import Testing

/// The hand-written request bodies are the JSON SQS expects: parsed back, each holds exactly
/// the fields and values given, whatever characters the strings hold.
@Suite("SQS request bodies")
struct RequestJSONTests {
    static func parsed(_ request: some SQSRequest) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(request.json)) as? NSDictionary)
    }

    @Test("each request shape holds its fields; absent optionals are left out")
    func shapes() throws {
        #expect(try Self.parsed(QueueName(QueueName: "jobs", Attributes: ["FifoQueue": "true", "A": "1"]))
            == ["QueueName": "jobs", "Attributes": ["FifoQueue": "true", "A": "1"]])
        #expect(try Self.parsed(QueueName(QueueName: "jobs")) == ["QueueName": "jobs"])
        #expect(try Self.parsed(AttributeNames(QueueUrl: "u", AttributeNames: ["All", "x"])) == ["QueueUrl": "u", "AttributeNames": ["All", "x"]])
        #expect(try Self.parsed(Receive(QueueUrl: "u", MaxNumberOfMessages: 10, WaitTimeSeconds: 20, VisibilityTimeout: nil))
            == ["QueueUrl": "u", "MaxNumberOfMessages": 10, "WaitTimeSeconds": 20, "MessageAttributeNames": ["All"],
                "MessageSystemAttributeNames": ["All"], "AttributeNames": ["All"]])
        #expect(try Self.parsed(Handle(QueueUrl: "u", ReceiptHandle: "r", VisibilityTimeout: 0))
            == ["QueueUrl": "u", "ReceiptHandle": "r", "VisibilityTimeout": 0])
        var message = SQSOutgoingMessage(body: "hi", attributes: ["s": .string("v"), "n": .number("1"), "b": .binary(Data([0, 255]))])
        message.delaySeconds = 5
        message.groupID = "g"
        message.deduplicationID = "d"
        let batch = Batch(QueueUrl: "u", Entries: [Send(message, id: "0"), Send(SQSOutgoingMessage(body: "second"), id: "1")])
        #expect(try Self.parsed(batch) == [
            "QueueUrl": "u",
            "Entries": [
                ["Id": "0", "MessageBody": "hi", "DelaySeconds": 5, "MessageGroupId": "g", "MessageDeduplicationId": "d",
                 "MessageAttributes": ["s": ["DataType": "String", "StringValue": "v"], "n": ["DataType": "Number", "StringValue": "1"],
                                       "b": ["DataType": "Binary", "BinaryValue": "AP8="]]],
                ["Id": "1", "MessageBody": "second"],
            ],
        ])
        #expect(try Self.parsed(Batch<Handle>(QueueUrl: "u", Entries: [])) == ["QueueUrl": "u", "Entries": []])
    }

    @Test("any string survives: quotes, backslashes, control characters and every plane of Unicode")
    func strings() throws {
        var random = SeededRandom(seed: 0x5150)
        let pool: [Unicode.Scalar] = ["\"", "\\", "/", "\u{0}", "\u{1F}", "\n", "\t", "a", "é", "\u{2028}", "中", "😀", "\u{FFFD}", " "]
        for _ in 0..<500 {
            let text = String(String.UnicodeScalarView((0..<Int.random(in: 0...20, using: &random)).map { _ in pool.randomElement(using: &random)! }))
            let parsed = try Self.parsed(Send(SQSOutgoingMessage(body: text, attributes: [text: .string(text)]), queueURL: text))
            #expect(parsed["MessageBody"] as? String == text && parsed["QueueUrl"] as? String == text)
            #expect((parsed["MessageAttributes"] as? NSDictionary)?[text] as? NSDictionary == ["DataType": "String", "StringValue": text])
        }
    }
}
