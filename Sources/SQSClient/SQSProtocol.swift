import Foundation

// The request and answer bodies of SQS's JSON protocol, named as SQS names their fields.
// Answers are decoded from what the network sends: `SQSResponseFuzzing` feeds them arbitrary bytes.

struct QueueName: Encodable {
    var QueueName: String
    var Attributes: [String: String]?
}

struct QueueURL: Codable {
    var QueueUrl: String
}

struct AttributeNames: Encodable {
    var QueueUrl: String
    var AttributeNames: [String]
}

struct Attributes: Codable {
    var QueueUrl: String?
    var Attributes: [String: String]?
}

struct Send: Encodable {
    var QueueUrl: String?
    var Id: String?
    var MessageBody: String
    var DelaySeconds: Int?
    var MessageAttributes: [String: SQSMessageAttribute]?
    var MessageGroupId: String?
    var MessageDeduplicationId: String?

    init(_ message: SQSOutgoingMessage, queueURL: String? = nil, id: String? = nil) {
        QueueUrl = queueURL
        Id = id
        MessageBody = message.body
        DelaySeconds = message.delaySeconds
        MessageAttributes = message.attributes.isEmpty ? nil : message.attributes
        MessageGroupId = message.groupID
        MessageDeduplicationId = message.deduplicationID
    }
}

struct Sent: Decodable {
    var MessageId: String
}

struct Batch<Entry: Encodable>: Encodable {
    var QueueUrl: String
    var Entries: [Entry]
}

struct BatchAnswer: Decodable {
    struct Success: Decodable {
        var Id: String
        var MessageId: String?
    }

    struct Failure: Decodable {
        var Id: String
        var Code: String
        var Message: String?
        var SenderFault: Bool?
    }

    var Successful: [Success]?
    var Failed: [Failure]?

    var result: SQSBatchResult {
        SQSBatchResult(
            succeeded: Dictionary((Successful ?? []).map { ($0.Id, $0.MessageId ?? "") }, uniquingKeysWith: { first, _ in first }),
            failed: (Failed ?? []).map { .init(id: $0.Id, code: $0.Code, message: $0.Message ?? "", senderFault: $0.SenderFault ?? false) })
    }
}

struct Receive: Encodable {
    var QueueUrl: String
    var MaxNumberOfMessages: Int
    var WaitTimeSeconds: Int
    var VisibilityTimeout: Int?
    var MessageAttributeNames = ["All"]
    var MessageSystemAttributeNames = ["All"]
    var AttributeNames = ["All"]
}

struct Received: Decodable {
    var Messages: [SQSMessage]?
}

struct Handle: Encodable {
    var QueueUrl: String?
    var Id: String?
    var ReceiptHandle: String
    var VisibilityTimeout: Int?
}

struct Empty: Decodable {}
