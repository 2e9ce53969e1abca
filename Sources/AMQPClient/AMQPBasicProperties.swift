import NIOCore

/// The 14 properties of the AMQP `basic` class that travel in a message's content header.
///
/// Every property is optional; only those set are sent.
public struct AMQPBasicProperties: Hashable, Sendable {
    /// The MIME content type, such as `application/json`.
    public var contentType: String?
    /// The MIME content encoding, such as `gzip`.
    public var contentEncoding: String?
    /// Application headers.
    public var headers: AMQPTable?
    /// `1` for transient, `2` for persistent (see ``persistent``).
    public var deliveryMode: UInt8?
    /// The message priority, 0 to 9.
    public var priority: UInt8?
    /// The id of the request this message answers.
    public var correlationID: String?
    /// The queue replies go to.
    public var replyTo: String?
    /// The message time-to-live in milliseconds, as a decimal string.
    public var expiration: String?
    /// The application's message id.
    public var messageID: String?
    /// The message time, seconds since the Unix epoch.
    public var timestamp: UInt64?
    /// The message type name.
    public var type: String?
    /// The user that published it; RabbitMQ checks it against the connection's user.
    public var userID: String?
    /// The publishing application.
    public var appID: String?
    /// Reserved by AMQP 0-9-1; kept for completeness.
    public var clusterID: String?

    /// Properties that ask the broker to store the message on disk (delivery mode 2).
    public static let persistent = AMQPBasicProperties(deliveryMode: 2)

    /// Creates properties; every argument defaults to "not set".
    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: AMQPTable? = nil,
        deliveryMode: UInt8? = nil, priority: UInt8? = nil, correlationID: String? = nil, replyTo: String? = nil,
        expiration: String? = nil, messageID: String? = nil, timestamp: UInt64? = nil, type: String? = nil,
        userID: String? = nil, appID: String? = nil, clusterID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
        self.clusterID = clusterID
    }
}

extension AMQPBasicProperties {
    private enum Flag {
        static let contentType: UInt16 = 1 << 15
        static let contentEncoding: UInt16 = 1 << 14
        static let headers: UInt16 = 1 << 13
        static let deliveryMode: UInt16 = 1 << 12
        static let priority: UInt16 = 1 << 11
        static let correlationID: UInt16 = 1 << 10
        static let replyTo: UInt16 = 1 << 9
        static let expiration: UInt16 = 1 << 8
        static let messageID: UInt16 = 1 << 7
        static let timestamp: UInt16 = 1 << 6
        static let type: UInt16 = 1 << 5
        static let userID: UInt16 = 1 << 4
        static let appID: UInt16 = 1 << 3
        static let clusterID: UInt16 = 1 << 2
        static let continuation: UInt16 = 1
    }

    /// Reads the property-flags word(s) and the properties they announce.
    static func decode(from buffer: inout ByteBuffer) throws(AMQPError) -> AMQPBasicProperties {
        let flags = try buffer.readShort()
        var more = flags & Flag.continuation != 0
        while more {
            let extra = try buffer.readShort()
            guard extra & ~Flag.continuation == 0 else {
                throw AMQPError(.frameError, "content header announces unknown basic properties")
            }
            more = extra & Flag.continuation != 0
        }
        func has(_ flag: UInt16) -> Bool { flags & flag != 0 }
        var p = AMQPBasicProperties()
        if has(Flag.contentType) { p.contentType = try buffer.readShortString() }
        if has(Flag.contentEncoding) { p.contentEncoding = try buffer.readShortString() }
        if has(Flag.headers) { p.headers = try buffer.readTable() }
        if has(Flag.deliveryMode) { p.deliveryMode = try buffer.readOctet() }
        if has(Flag.priority) { p.priority = try buffer.readOctet() }
        if has(Flag.correlationID) { p.correlationID = try buffer.readShortString() }
        if has(Flag.replyTo) { p.replyTo = try buffer.readShortString() }
        if has(Flag.expiration) { p.expiration = try buffer.readShortString() }
        if has(Flag.messageID) { p.messageID = try buffer.readShortString() }
        if has(Flag.timestamp) { p.timestamp = try buffer.readLongLong() }
        if has(Flag.type) { p.type = try buffer.readShortString() }
        if has(Flag.userID) { p.userID = try buffer.readShortString() }
        if has(Flag.appID) { p.appID = try buffer.readShortString() }
        if has(Flag.clusterID) { p.clusterID = try buffer.readShortString() }
        return p
    }

    /// Writes the property-flags word and the properties that are set.
    func encode(into buffer: inout ByteBuffer) throws(AMQPError) {
        let flagsIndex = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        var flags: UInt16 = 0
        func shortString(_ value: String?, _ flag: UInt16, _ buffer: inout ByteBuffer) throws(AMQPError) {
            guard let value else { return }
            flags |= flag
            try buffer.writeShortString(value)
        }
        try shortString(contentType, Flag.contentType, &buffer)
        try shortString(contentEncoding, Flag.contentEncoding, &buffer)
        if let headers {
            flags |= Flag.headers
            try buffer.writeTable(headers)
        }
        if let deliveryMode {
            flags |= Flag.deliveryMode
            buffer.writeInteger(deliveryMode)
        }
        if let priority {
            flags |= Flag.priority
            buffer.writeInteger(priority)
        }
        try shortString(correlationID, Flag.correlationID, &buffer)
        try shortString(replyTo, Flag.replyTo, &buffer)
        try shortString(expiration, Flag.expiration, &buffer)
        try shortString(messageID, Flag.messageID, &buffer)
        if let timestamp {
            flags |= Flag.timestamp
            buffer.writeInteger(timestamp)
        }
        try shortString(type, Flag.type, &buffer)
        try shortString(userID, Flag.userID, &buffer)
        try shortString(appID, Flag.appID, &buffer)
        try shortString(clusterID, Flag.clusterID, &buffer)
        buffer.setInteger(flags, at: flagsIndex)
    }
}
