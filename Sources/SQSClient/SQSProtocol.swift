import Foundation

// The request and answer bodies of SQS's JSON protocol, named as SQS names their fields.
// Answers are decoded from what the network sends: `SQSResponseFuzzing` feeds them arbitrary bytes.

struct QueueName: SQSRequest {
    var QueueName: String
    var Attributes: [String: String]?

    func write(to json: inout RequestJSON) {
        json.field("QueueName", QueueName)
        json.field("Attributes", Attributes)
    }
}

struct QueueURL: Decodable, SQSRequest {
    var QueueUrl: String

    func write(to json: inout RequestJSON) {
        json.field("QueueUrl", QueueUrl)
    }
}

struct AttributeNames: SQSRequest {
    var QueueUrl: String
    var AttributeNames: [String]

    func write(to json: inout RequestJSON) {
        json.field("QueueUrl", QueueUrl)
        json.field("AttributeNames", AttributeNames)
    }
}

struct Attributes: Decodable, SQSRequest {
    var QueueUrl: String?
    var Attributes: [String: String]?

    func write(to json: inout RequestJSON) {
        json.field("QueueUrl", QueueUrl)
        json.field("Attributes", Attributes)
    }
}

struct Send: SQSRequest {
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

    func write(to json: inout RequestJSON) {
        json.field("QueueUrl", QueueUrl)
        json.field("Id", Id)
        json.field("MessageBody", MessageBody)
        json.field("DelaySeconds", DelaySeconds)
        if let attributes = MessageAttributes {
            json.member("MessageAttributes") { json in
                json.object { json in
                    for name in attributes.keys.sorted() {
                        let attribute = attributes[name]!
                        json.member(name) { json in
                            json.object { json in
                                json.field("DataType", attribute.dataType)
                                json.field("StringValue", attribute.stringValue)
                                json.field("BinaryValue", attribute.binaryValue?.base64EncodedString())
                            }
                        }
                    }
                }
            }
        }
        json.field("MessageGroupId", MessageGroupId)
        json.field("MessageDeduplicationId", MessageDeduplicationId)
    }
}

struct Sent: Decodable {
    var MessageId: String
}

struct Batch<Entry: SQSRequest>: SQSRequest {
    var QueueUrl: String
    var Entries: [Entry]

    func write(to json: inout RequestJSON) {
        json.field("QueueUrl", QueueUrl)
        json.array("Entries", Entries) { json, entry in json.object { entry.write(to: &$0) } }
    }
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

struct Receive: SQSRequest {
    var QueueUrl: String
    var MaxNumberOfMessages: Int
    var WaitTimeSeconds: Int
    var VisibilityTimeout: Int?

    func write(to json: inout RequestJSON) {
        json.field("QueueUrl", QueueUrl)
        json.field("MaxNumberOfMessages", MaxNumberOfMessages)
        json.field("WaitTimeSeconds", WaitTimeSeconds)
        json.field("VisibilityTimeout", VisibilityTimeout)
        json.field("MessageAttributeNames", ["All"])
        json.field("MessageSystemAttributeNames", ["All"])
        json.field("AttributeNames", ["All"])
    }
}

struct Received: Decodable {
    var Messages: [SQSMessage]?
}

struct Handle: SQSRequest {
    var QueueUrl: String?
    var Id: String?
    var ReceiptHandle: String
    var VisibilityTimeout: Int?

    func write(to json: inout RequestJSON) {
        json.field("QueueUrl", QueueUrl)
        json.field("Id", Id)
        json.field("ReceiptHandle", ReceiptHandle)
        json.field("VisibilityTimeout", VisibilityTimeout)
    }
}

struct Empty: Decodable {}
