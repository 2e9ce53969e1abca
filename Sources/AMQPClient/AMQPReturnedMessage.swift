import NIOCore

/// A message the broker returned because it could not route it (`basic.return`): it was
/// published `mandatory` and no queue took it, such as a reply to a `reply_to` queue that no
/// longer exists. In confirm mode the broker still confirms such a publish; this is how its
/// sender learns the message went nowhere.
public struct AMQPReturnedMessage: Sendable {
    /// The broker's reason code, such as `312` (`NO_ROUTE`).
    public var replyCode: UInt16
    /// The broker's reason, such as `NO_ROUTE`.
    public var replyText: String
    /// The exchange it was published to (empty for the default exchange).
    public var exchange: String
    /// Its routing key.
    public var routingKey: String
    /// Its properties, headers included.
    public var properties: AMQPBasicProperties
    /// Its body.
    public var body: ByteBuffer

    /// Its application headers (empty when it has none).
    public var headers: AMQPTable { properties.headers ?? [:] }
}
