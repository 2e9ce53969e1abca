import Foundation

// The request and answer bodies of SQS's JSON protocol, named as SQS names their fields.
// Answers are read from what the network sends (``AnswerJSON``): `SQSResponseFuzzing` feeds them arbitrary bytes.

struct QueueName: SQSRequest {
    var QueueName: String
    var Attributes: [String: String]?

    func write(to json: inout RequestJSON) {
        json.field("QueueName", QueueName)
        json.field("Attributes", Attributes)
    }
}

struct QueueURL: SQSRequest, SQSAnswer {
    var QueueUrl: String

    init(QueueUrl: String) {
        self.QueueUrl = QueueUrl
    }

    init(answer: AnswerJSON) throws(AnswerProblem) {
        QueueUrl = try answer.requiredString("QueueUrl", in: "answer")
    }

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

struct Attributes: SQSRequest, SQSAnswer {
    var QueueUrl: String?
    var Attributes: [String: String]?

    init(QueueUrl: String?, Attributes: [String: String]?) {
        self.QueueUrl = QueueUrl
        self.Attributes = Attributes
    }

    init(answer: AnswerJSON) throws(AnswerProblem) {
        Attributes = try answer.strings("Attributes", in: "answer")
    }

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

struct Sent: SQSAnswer {
    var MessageId: String

    init(answer: AnswerJSON) throws(AnswerProblem) {
        MessageId = try answer.requiredString("MessageId", in: "answer")
    }
}

struct Batch<Entry: SQSRequest>: SQSRequest {
    var QueueUrl: String
    var Entries: [Entry]

    func write(to json: inout RequestJSON) {
        json.field("QueueUrl", QueueUrl)
        json.array("Entries", Entries) { json, entry in json.object { entry.write(to: &$0) } }
    }
}

struct BatchAnswer: SQSAnswer {
    var result: SQSBatchResult

    init(answer: AnswerJSON) throws(AnswerProblem) {
        guard case .object = answer else { throw AnswerProblem("the answer is not an object") }
        var succeeded: [String: String] = [:]
        for (index, entry) in (try answer.array("Successful", in: "answer") ?? []).enumerated() {
            let place = "Successful[\(index)]"
            let id = try entry.requiredString("Id", in: place)
            if succeeded[id] == nil { succeeded[id] = try entry.string("MessageId", in: place) ?? "" }
        }
        var failed: [SQSBatchResult.Failure] = []
        for (index, entry) in (try answer.array("Failed", in: "answer") ?? []).enumerated() {
            let place = "Failed[\(index)]"
            var senderFault = false
            if let value = entry["SenderFault"] {
                guard case .bool(let flag) = value else { throw AnswerProblem("\(place).SenderFault is not a boolean") }
                senderFault = flag
            }
            failed.append(.init(id: try entry.requiredString("Id", in: place), code: try entry.requiredString("Code", in: place),
                                message: try entry.string("Message", in: place) ?? "", senderFault: senderFault))
        }
        result = SQSBatchResult(succeeded: succeeded, failed: failed)
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

struct Received: SQSAnswer {
    var Messages: [SQSMessage]?

    init(answer: AnswerJSON) throws(AnswerProblem) {
        guard case .object = answer else { throw AnswerProblem("the answer is not an object") }
        Messages = try answer.array("Messages", in: "answer")?.enumerated().map { (index, message) throws(AnswerProblem) in
            try SQSMessage(answer: message, place: "Messages[\(index)]")
        }
    }
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

struct Empty: SQSAnswer {
    init(answer: AnswerJSON) throws(AnswerProblem) {
        guard case .object = answer else { throw AnswerProblem("the answer is not an object") }
    }
}
