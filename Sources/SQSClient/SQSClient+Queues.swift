extension SQSClient {
    /// Creates the queue `name` (a FIFO queue when it ends in `.fifo`, which needs the
    /// attribute `FifoQueue: "true"`) with `attributes`, or returns the existing one with the
    /// same attributes; returns its URL.
    public func createQueue(_ name: String, attributes: [String: String] = [:]) async throws -> String {
        try await call("CreateQueue", QueueName(QueueName: name, Attributes: attributes.isEmpty ? nil : attributes), as: QueueURL.self).QueueUrl
    }

    /// The URL of the queue `name`; throws ``SQSError/Code-swift.struct/queueDoesNotExist`` when there is none.
    public func getQueueURL(_ name: String) async throws -> String {
        try await call("GetQueueUrl", QueueName(QueueName: name), as: QueueURL.self).QueueUrl
    }

    /// The queue's attributes named in `names` (`All` by default), such as
    /// `ApproximateNumberOfMessages` and `RedrivePolicy`.
    public func getQueueAttributes(_ queueURL: String, names: [String] = ["All"]) async throws -> [String: String] {
        try await call("GetQueueAttributes", AttributeNames(QueueUrl: queueURL, AttributeNames: names), as: Attributes.self).Attributes ?? [:]
    }

    /// Sets the queue's attributes, such as `VisibilityTimeout` or a `RedrivePolicy` naming a
    /// dead-letter queue (``redrivePolicy(deadLetterQueueARN:maximumReceives:)``).
    public func setQueueAttributes(_ queueURL: String, _ attributes: [String: String]) async throws {
        _ = try await call("SetQueueAttributes", Attributes(QueueUrl: queueURL, Attributes: attributes), as: Empty.self)
    }

    /// Deletes the queue and its messages.
    public func deleteQueue(_ queueURL: String) async throws {
        _ = try await call("DeleteQueue", QueueURL(QueueUrl: queueURL), as: Empty.self)
    }

    /// Deletes every message in the queue.
    public func purgeQueue(_ queueURL: String) async throws {
        _ = try await call("PurgeQueue", QueueURL(QueueUrl: queueURL), as: Empty.self)
    }

    /// The `RedrivePolicy` attribute that moves a message to the queue `deadLetterQueueARN`
    /// once it has been received `maximumReceives` times.
    public static func redrivePolicy(deadLetterQueueARN: String, maximumReceives: Int) -> String {
        #"{"deadLetterTargetArn":"\#(deadLetterQueueARN)","maxReceiveCount":"\#(maximumReceives)"}"#
    }
}
