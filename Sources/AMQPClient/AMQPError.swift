/// An error raised by the AMQP client: a stable ``Code`` and a human-readable message.
///
/// Errors the broker reports (a `channel.close` or `connection.close` it sends) carry the AMQP
/// reply code and reply text, so `404 NOT_FOUND` from a passive declare surfaces as
/// ``Code/channelClosed`` with ``replyCode`` `404`.
///
/// ```swift
/// do { try await channel.queueDeclare("missing", passive: true) }
/// catch let error as AMQPError where error.replyCode == AMQPError.ReplyCode.notFound { ... }
/// ```
public struct AMQPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. New kinds may be added without breaking existing code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String, Hashable, Sendable {
            case invalidURL, connectionFailed, connectionClosed
            case channelClosed, frameError, protocolViolation, heartbeatTimeout
            case publishNacked, consumerCancelled, channelLimitReached, invalidArgument, frameTooLarge, bufferFull
        }

        private let kind: Kind

        private init(_ kind: Kind) { self.kind = kind }

        /// The connection URL could not be parsed.
        public static let invalidURL = Code(.invalidURL)
        /// The socket could not be opened or the handshake failed.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection is closed: by ``AMQPConnection/close()``, by the broker, or by a broken socket.
        public static let connectionClosed = Code(.connectionClosed)
        /// The channel was closed, by the client or by the broker (see ``AMQPError/replyCode``).
        public static let channelClosed = Code(.channelClosed)
        /// Bytes from the peer do not form a valid AMQP frame.
        public static let frameError = Code(.frameError)
        /// The peer sent a well-formed frame the protocol does not allow at this point.
        public static let protocolViolation = Code(.protocolViolation)
        /// Nothing arrived from the broker for two heartbeat intervals.
        public static let heartbeatTimeout = Code(.heartbeatTimeout)
        /// The broker refused responsibility for a published message (`basic.nack`).
        public static let publishNacked = Code(.publishNacked)
        /// The broker cancelled a consumer, for example because its queue was deleted.
        public static let consumerCancelled = Code(.consumerCancelled)
        /// Every channel number the broker allows is in use.
        public static let channelLimitReached = Code(.channelLimitReached)
        /// An argument cannot be encoded, such as a short string longer than 255 bytes.
        public static let invalidArgument = Code(.invalidArgument)
        /// A frame the client would send is larger than the negotiated frame-max, such as a
        /// message whose headers do not fit one content header frame; nothing was sent (a broker
        /// would close the whole connection for it).
        public static let frameTooLarge = Code(.frameTooLarge)
        /// The connection is being recovered and the publishes waiting for it already hold
        /// ``AMQPConnectionConfiguration/Recovery/maximumBufferedBytes``; nothing was sent.
        public static let bufferFull = Code(.bufferFull)

        /// The code's stable name, such as `channelClosed`.
        public var description: String { kind.rawValue }
    }

    /// AMQP reply codes (AMQP 0-9-1 §1.9) the broker uses in `channel.close` and `connection.close`.
    public enum ReplyCode {
        /// 200: normal close.
        public static let success: UInt16 = 200
        /// 320: an operator closed the connection.
        public static let connectionForced: UInt16 = 320
        /// 403: access refused, including failed authentication.
        public static let accessRefused: UInt16 = 403
        /// 404: the named entity does not exist.
        public static let notFound: UInt16 = 404
        /// 405: the entity is locked by another connection (exclusive queue).
        public static let resourceLocked: UInt16 = 405
        /// 406: a precondition failed, such as redeclaring with other properties.
        public static let preconditionFailed: UInt16 = 406
        /// 501: a malformed frame.
        public static let frameError: UInt16 = 501
        /// 502: a field value is invalid.
        public static let syntaxError: UInt16 = 502
        /// 503: a method was sent out of place.
        public static let commandInvalid: UInt16 = 503
        /// 504: a channel was used out of place (not open, or opened twice).
        public static let channelError: UInt16 = 504
        /// 505: an unexpected frame.
        public static let unexpectedFrame: UInt16 = 505
        /// 530: the operation is not allowed.
        public static let notAllowed: UInt16 = 530
        /// 540: the method is not implemented by the broker.
        public static let notImplemented: UInt16 = 540
        /// 541: the broker failed internally.
        public static let internalError: UInt16 = 541

        /// The codes of a `connection.close` by which the broker refuses something the client
        /// sent (a malformed or oversized frame, an invalid field, a method out of place). A
        /// publish still unconfirmed when one arrives may be the cause, so it is not sent again.
        public static let refusingWhatWasSent: Set<UInt16> = [
            frameError, syntaxError, commandInvalid, channelError, unexpectedFrame, notImplemented,
        ]
    }

    /// What went wrong.
    public var code: Code
    /// A human-readable explanation; for broker errors, the broker's reply text.
    public var message: String
    /// The AMQP reply code when the broker closed a channel or the connection.
    public var replyCode: UInt16?

    /// Creates an error.
    public init(_ code: Code, _ message: String, replyCode: UInt16? = nil) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
    }

    /// `code: message`, with the reply code when there is one.
    public var description: String {
        if let replyCode { return "\(code) (\(replyCode)): \(message)" }
        return "\(code): \(message)"
    }
}
