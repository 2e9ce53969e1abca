/// The application headers the RPC protocol reads and writes (seed 004, edeposit.amqp).
///
/// A request and its response are paired by the ``uuid`` header; a failed request's response
/// carries ``exception``, ``exceptionName`` and ``exceptionType``.
public enum AMQPRPCHeader {
    /// `UUID`: the id that pairs a response with its request, as a string.
    public static let uuid = "UUID"
    /// `exception`: the failure's message.
    public static let exception = "exception"
    /// `exception_name`: the name of the error's type, such as `AMQPRPCFailure`.
    public static let exceptionName = "exception_name"
    /// `exception_type`: a stable kind of failure, such as `unknown_request_type`.
    public static let exceptionType = "exception_type"
    /// `type`: the request type, read when the message's AMQP `type` property is not set.
    public static let type = "type"
    /// `dead_letter_reason`: why the daemon moved a request to its dead-letter queue.
    public static let deadLetterReason = "dead_letter_reason"
}
