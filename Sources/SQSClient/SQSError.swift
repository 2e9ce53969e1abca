/// An error of ``SQSClient``: a stable ``Code``, a message, and for errors SQS reports the HTTP
/// status and the request id to quote to AWS.
///
/// ```swift
/// do { _ = try await sqs.getQueueURL("missing") }
/// catch let error as SQSError where error.code == .queueDoesNotExist { ... }
/// ```
public struct SQSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure: SQS's own error name (`QueueDoesNotExist`, `ThrottlingException`, …)
    /// or one of the client's. New codes may appear: compare with the constants.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The name, as SQS sends it or as the client names its own failures.
        public let name: String

        /// A code named `name`.
        public init(_ name: String) { self.name = name }

        /// Credentials, region or endpoint are missing or invalid.
        public static let invalidConfiguration = Code("InvalidConfiguration")
        /// The endpoint could not be reached, or the connection broke.
        public static let connectionFailed = Code("ConnectionFailed")
        /// SQS answered with something that is not the protocol's JSON.
        public static let invalidResponse = Code("InvalidResponse")
        /// The request did not finish in time.
        public static let timeout = Code("Timeout")
        /// The queue does not exist.
        public static let queueDoesNotExist = Code("QueueDoesNotExist")
        /// SQS asks the client to slow down.
        public static let throttling = Code("ThrottlingException")
        /// The access key is not known.
        public static let invalidClientTokenID = Code("InvalidClientTokenId")
        /// The signature does not match: wrong secret key, or a clock far off.
        public static let signatureDoesNotMatch = Code("SignatureDoesNotMatch")
        /// The session token has expired.
        public static let expiredToken = Code("ExpiredToken")
        /// The credentials may not do this.
        public static let accessDenied = Code("AccessDenied")
        /// A parameter's value is not allowed.
        public static let invalidParameterValue = Code("InvalidParameterValue")

        public var description: String { name }
    }

    /// What went wrong.
    public var code: Code
    /// SQS's message, or the client's explanation.
    public var message: String
    /// The HTTP status of SQS's answer, when there was one.
    public var status: Int?
    /// SQS's request id (`x-amzn-RequestId`), when there was one.
    public var requestID: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, status: Int? = nil, requestID: String? = nil) {
        self.code = code
        self.message = message
        self.status = status
        self.requestID = requestID
    }

    /// Whether trying again later may succeed: throttling, SQS's own failures (5xx) and
    /// broken connections.
    public var isRetryable: Bool {
        if code == .connectionFailed || code == .timeout || code == .throttling { return true }
        if ["RequestThrottled", "ServiceUnavailable", "InternalFailure", "InternalError"].contains(code.name) { return true }
        return (status ?? 0) >= 500
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let status { text += " (HTTP \(status)" + (requestID.map { ", request \($0)" } ?? "") + ")" }
        return text
    }
}
