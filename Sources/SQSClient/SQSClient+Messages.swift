extension SQSClient {
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
