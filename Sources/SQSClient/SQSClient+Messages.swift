extension SQSClient {
    private struct Send: Encodable {
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

    private struct Sent: Decodable {
        var MessageId: String
    }

    private struct Batch<Entry: Encodable>: Encodable {
        var QueueUrl: String
        var Entries: [Entry]
    }

    private struct BatchAnswer: Decodable {
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

    private struct Receive: Encodable {
        var QueueUrl: String
        var MaxNumberOfMessages: Int
        var WaitTimeSeconds: Int
        var VisibilityTimeout: Int?
        var MessageAttributeNames = ["All"]
        var MessageSystemAttributeNames = ["All"]
        var AttributeNames = ["All"]
    }

    private struct Received: Decodable {
        var Messages: [SQSMessage]?
    }

    private struct Handle: Encodable {
        var QueueUrl: String?
        var Id: String?
        var ReceiptHandle: String
        var VisibilityTimeout: Int?
    }

    private struct Empty: Decodable {}

    /// Sends `message` and returns the id SQS gave it.
    public func sendMessage(_ queueURL: String, _ message: SQSOutgoingMessage) async throws -> String {
        try await call("SendMessage", Send(message, queueURL: queueURL), as: Sent.self).MessageId
    }

    /// Sends up to ten messages in one request, named by their index in `messages` (`"0"`, `"1"`, …).
    public func sendMessageBatch(_ queueURL: String, _ messages: [SQSOutgoingMessage]) async throws -> SQSBatchResult {
        let entries = messages.enumerated().map { Send($0.element, id: "\($0.offset)") }
        return try await call("SendMessageBatch", Batch(QueueUrl: queueURL, Entries: entries), as: BatchAnswer.self).result
    }

    /// Receives up to `maximum` (1 to 10) messages, waiting up to `waitSeconds` (0 to 20) for
    /// the first; each stays hidden from other receivers for `visibilitySeconds` (else the
    /// queue's default). Every attribute of each message is asked for.
    public func receiveMessages(_ queueURL: String, maximum: Int = 10, waitSeconds: Int = 0,
                                visibilitySeconds: Int? = nil) async throws -> [SQSMessage] {
        let request = Receive(QueueUrl: queueURL, MaxNumberOfMessages: maximum, WaitTimeSeconds: waitSeconds,
                              VisibilityTimeout: visibilitySeconds)
        return try await call("ReceiveMessage", request, as: Received.self, extraTime: .seconds(waitSeconds)).Messages ?? []
    }

    /// Deletes a received message.
    public func deleteMessage(_ queueURL: String, receiptHandle: String) async throws {
        _ = try await call("DeleteMessage", Handle(QueueUrl: queueURL, ReceiptHandle: receiptHandle), as: Empty.self)
    }

    /// Deletes up to ten received messages, named by their index in `receiptHandles`.
    public func deleteMessageBatch(_ queueURL: String, receiptHandles: [String]) async throws -> SQSBatchResult {
        let entries = receiptHandles.enumerated().map { Handle(Id: "\($0.offset)", ReceiptHandle: $0.element) }
        return try await call("DeleteMessageBatch", Batch(QueueUrl: queueURL, Entries: entries), as: BatchAnswer.self).result
    }

    /// Hides a received message from other receivers for `seconds` from now (0 makes it visible at once).
    public func changeMessageVisibility(_ queueURL: String, receiptHandle: String, seconds: Int) async throws {
        _ = try await call("ChangeMessageVisibility", Handle(QueueUrl: queueURL, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds),
                           as: Empty.self)
    }

    /// Changes the visibility of up to ten received messages, named by their index.
    public func changeMessageVisibilityBatch(_ queueURL: String, _ changes: [(receiptHandle: String, seconds: Int)]) async throws
        -> SQSBatchResult {
        let entries = changes.enumerated().map { Handle(Id: "\($0.offset)", ReceiptHandle: $0.element.receiptHandle,
                                                        VisibilityTimeout: $0.element.seconds) }
        return try await call("ChangeMessageVisibilityBatch", Batch(QueueUrl: queueURL, Entries: entries), as: BatchAnswer.self).result
    }
}
