import Foundation

/// A message attribute: a typed value sent beside the body.
public struct SQSMessageAttribute: Sendable, Hashable {
    /// `String`, `Number` or `Binary`, optionally with a custom suffix (`String.json`).
    public var dataType: String
    /// The value of a `String` or `Number` attribute.
    public var stringValue: String?
    /// The value of a `Binary` attribute.
    public var binaryValue: Data?

    /// A `String` attribute.
    public static func string(_ value: String) -> SQSMessageAttribute { SQSMessageAttribute(dataType: "String", stringValue: value) }
    /// A `Number` attribute.
    public static func number(_ value: String) -> SQSMessageAttribute { SQSMessageAttribute(dataType: "Number", stringValue: value) }
    /// A `Binary` attribute.
    public static func binary(_ value: Data) -> SQSMessageAttribute { SQSMessageAttribute(dataType: "Binary", binaryValue: value) }

    /// Creates an attribute.
    public init(dataType: String, stringValue: String? = nil, binaryValue: Data? = nil) {
        self.dataType = dataType
        self.stringValue = stringValue
        self.binaryValue = binaryValue
    }
}

/// A message to send, alone or in a batch.
public struct SQSOutgoingMessage: Sendable, Hashable {
    /// The body, up to SQS's size limit.
    public var body: String
    /// Typed attributes sent beside the body.
    public var attributes: [String: SQSMessageAttribute]
    /// Seconds before the message becomes visible (0 to 900); `nil` for the queue's default.
    public var delaySeconds: Int?
    /// A FIFO queue's message group: messages of one group are delivered in order.
    public var groupID: String?
    /// A FIFO queue's deduplication id (else the body's hash, with content-based deduplication).
    public var deduplicationID: String?

    /// Creates a message.
    public init(body: String, attributes: [String: SQSMessageAttribute] = [:], delaySeconds: Int? = nil, groupID: String? = nil,
                deduplicationID: String? = nil) {
        self.body = body
        self.attributes = attributes
        self.delaySeconds = delaySeconds
        self.groupID = groupID
        self.deduplicationID = deduplicationID
    }
}

/// A message received from a queue.
public struct SQSMessage: Sendable, Hashable {
    /// The message's id, given when it was sent.
    public var messageID: String
    /// The handle that deletes the message or changes its visibility, valid for this receipt only.
    public var receiptHandle: String
    /// The body.
    public var body: String
    /// SQS's own attributes asked for, such as `ApproximateReceiveCount` and `MessageGroupId`.
    public var systemAttributes: [String: String]
    /// The attributes the sender set.
    public var attributes: [String: SQSMessageAttribute]

    /// How many times the message has been received, this time included (from `ApproximateReceiveCount`).
    public var receiveCount: Int { systemAttributes["ApproximateReceiveCount"].flatMap { Int($0) } ?? 1 }

    /// Reads a message of a `ReceiveMessage` answer.
    init(answer: AnswerJSON, place: String) throws(AnswerProblem) {
        messageID = try answer.requiredString("MessageId", in: place)
        receiptHandle = try answer.requiredString("ReceiptHandle", in: place)
        body = try answer.string("Body", in: place) ?? ""
        systemAttributes = try answer.strings("Attributes", in: place) ?? [:]
        var attributes: [String: SQSMessageAttribute] = [:]
        if let value = answer["MessageAttributes"] {
            guard case .object(let members) = value else { throw AnswerProblem("\(place).MessageAttributes is not an object") }
            for (name, member) in members {
                let where_ = "\(place).MessageAttributes.\(name)"
                var binary: Data?
                if let text = try member.string("BinaryValue", in: where_) {
                    guard let data = Data(base64Encoded: text) else { throw AnswerProblem("\(where_).BinaryValue is not base64") }
                    binary = data
                }
                attributes[name] = SQSMessageAttribute(dataType: try member.requiredString("DataType", in: where_),
                                                       stringValue: try member.string("StringValue", in: where_), binaryValue: binary)
            }
        }
        self.attributes = attributes
    }
}

/// What a batch call did with each entry: the ids that succeeded and, per failed id, why.
public struct SQSBatchResult: Sendable, Hashable {
    /// An entry SQS refused.
    public struct Failure: Sendable, Hashable {
        /// The entry's id in the batch.
        public var id: String
        /// SQS's error code for it.
        public var code: String
        /// SQS's message.
        public var message: String
        /// Whether the entry itself is at fault (trying it again unchanged will fail again).
        public var senderFault: Bool

        /// Describes a refused entry.
        public init(id: String, code: String, message: String, senderFault: Bool) {
            self.id = id
            self.code = code
            self.message = message
            self.senderFault = senderFault
        }
    }

    /// The ids of the entries that succeeded, with the message id SQS gave a sent message.
    public var succeeded: [String: String]
    /// The entries that failed.
    public var failed: [Failure]

    /// A batch's outcome.
    public init(succeeded: [String: String], failed: [Failure]) {
        self.succeeded = succeeded
        self.failed = failed
    }
}
