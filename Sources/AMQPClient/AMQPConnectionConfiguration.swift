/// Where and how ``AMQPConnection`` connects, and how it recovers from a broken connection.
public struct AMQPConnectionConfiguration: Sendable {
    /// How the connection comes back after the socket breaks.
    public struct Recovery: Sendable {
        /// Whether a broken connection is recovered at all.
        public var isEnabled: Bool
        /// The wait before the first reconnection attempt; it doubles after each failed attempt.
        public var initialDelay: Duration
        /// The longest wait between attempts.
        public var maximumDelay: Duration
        /// The most message bytes that may wait for the connection while it is being recovered:
        /// the unconfirmed publishes it had when it broke and those made since. A publish that
        /// would pass it fails at once with ``AMQPError/Code-swift.struct/bufferFull``.
        public var maximumBufferedBytes: Int

        /// Creates a recovery policy.
        public init(isEnabled: Bool = true, initialDelay: Duration = .milliseconds(100), maximumDelay: Duration = .seconds(5),
                    maximumBufferedBytes: Int = 64 << 20) {
            self.isEnabled = isEnabled
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
            self.maximumBufferedBytes = maximumBufferedBytes
        }

        /// Recovery with a 100 ms first delay doubling up to 5 s, buffering up to 64 MiB.
        public static let `default` = Recovery()
        /// No recovery: a broken connection stays closed and everything waiting on it fails.
        public static let disabled = Recovery(isEnabled: false)
    }

    /// The broker's host name or address.
    public var host: String
    /// The broker's port.
    public var port: Int
    /// The user for PLAIN authentication.
    public var user: String
    /// The password for PLAIN authentication.
    public var password: String
    /// The virtual host to open.
    public var virtualHost: String
    /// The heartbeat interval wanted, in seconds; `0` accepts the broker's proposal.
    public var heartbeat: UInt16
    /// The largest frame wanted, in bytes; `0` accepts the broker's limit.
    public var frameMax: UInt32
    /// The highest channel number wanted; `0` accepts the broker's limit.
    public var channelMax: UInt16
    /// How long the TCP connect plus the AMQP handshake may take.
    public var connectTimeout: Duration
    /// The name the broker shows for this connection (client property `connection_name`).
    public var connectionName: String?
    /// What happens when the connection breaks.
    public var recovery: Recovery
    /// TLS for the connection (`amqps://`); `nil` speaks in the clear.
    public var tls: TLS?

    /// How an `amqps://` connection checks the broker and shows itself.
    public struct TLS: Sendable, Hashable {
        /// The CA certificates (PEM) that the broker's certificate must chain to; the system's when `nil`.
        public var caFile: String?
        /// A client certificate chain (PEM) and its private key (PEM), when the broker asks for one.
        public var certificateFile: String?
        /// The client certificate's private key (PEM).
        public var keyFile: String?
        /// Whether the broker's certificate is checked (chain and host name); `true` unless told otherwise.
        public var verifyPeer: Bool
        /// The name checked against the broker's certificate and sent as SNI; the host when `nil`.
        public var serverName: String?

        /// Creates TLS settings; by default the broker is checked against the system's CAs.
        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verifyPeer: Bool = true,
                    serverName: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verifyPeer = verifyPeer
            self.serverName = serverName
        }
    }

    /// Creates a configuration; the defaults match RabbitMQ's out of the box.
    public init(
        host: String = "127.0.0.1", port: Int = 5672, user: String = "guest", password: String = "guest",
        virtualHost: String = "/", heartbeat: UInt16 = 60, frameMax: UInt32 = 131_072, channelMax: UInt16 = 2047,
        connectTimeout: Duration = .seconds(10), connectionName: String? = nil, recovery: Recovery = .default, tls: TLS? = nil
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeat = heartbeat
        self.frameMax = frameMax
        self.channelMax = channelMax
        self.connectTimeout = connectTimeout
        self.connectionName = connectionName
        self.recovery = recovery
        self.tls = tls
    }

    /// Parses `amqp://user:password@host:port/vhost?heartbeat=S&frame_max=N&channel_max=N`, or
    /// `amqps://…` for TLS (port 5671 by default) with RabbitMQ's TLS query items: `cacertfile`,
    /// `certfile`, `keyfile`, `verify` (`verify_peer`, the default, or `verify_none`) and
    /// `server_name_indication` (the name to check and send).
    ///
    /// Parts left out keep their defaults (`guest`/`guest`, port 5672, vhost `/`); the vhost and the
    /// credentials are percent-decoded, so `amqp://host/%2f` names the vhost `/`.
    public init(url: String) throws(AMQPError) {
        self.init()
        let secure = url.hasPrefix("amqps://")
        guard secure || url.hasPrefix("amqp://") else {
            throw AMQPError(.invalidURL, "the URL must start with amqp:// or amqps://: \(Self.redacted(url))")
        }
        if secure {
            tls = TLS()
            port = 5671
        }
        var rest = Substring(url.dropFirst(secure ? "amqps://".count : "amqp://".count))
        var query = Substring("")
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty { virtualHost = try Self.percentDecoded(path, in: "the vhost '\(path)'") }
        }
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            authority = authority[authority.index(after: at)...]
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = try Self.percentDecoded(parts[0], in: "the user '\(parts[0])'")
            if parts.count > 1 { password = try Self.percentDecoded(parts[1], in: "the password") }
        }
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                throw AMQPError(.invalidURL, "invalid port in \(Self.redacted(url))")
            }
            port = number
            authority = authority[..<colon]
        }
        if authority.hasPrefix("["), authority.hasSuffix("]") { authority = authority.dropFirst().dropLast() }
        if !authority.isEmpty { host = String(authority) }
        for pair in query.split(separator: "&") {
            let keyValue = pair.split(separator: "=", maxSplits: 1)
            guard keyValue.count == 2 else { throw AMQPError(.invalidURL, "invalid query item \(pair)") }
            switch keyValue[0] {
            case "heartbeat": heartbeat = try Self.number(keyValue[1], url)
            case "frame_max": frameMax = try Self.number(keyValue[1], url)
            case "channel_max": channelMax = try Self.number(keyValue[1], url)
            case "cacertfile", "certfile", "keyfile", "verify", "server_name_indication":
                guard tls != nil else { throw AMQPError(.invalidURL, "\(keyValue[0]) is a TLS option: use amqps://") }
                let value = try Self.percentDecoded(keyValue[1], in: "the \(keyValue[0]) option")
                switch keyValue[0] {
                case "cacertfile": tls?.caFile = value
                case "certfile": tls?.certificateFile = value
                case "keyfile": tls?.keyFile = value
                case "server_name_indication": tls?.serverName = value
                default:
                    guard value == "verify_peer" || value == "verify_none" else {
                        throw AMQPError(.invalidURL, "verify must be verify_peer or verify_none, not \(value)")
                    }
                    tls?.verifyPeer = value == "verify_peer"
                }
            default: throw AMQPError(.invalidURL, "unknown query item \(keyValue[0])")
            }
        }
        if let tls, (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw AMQPError(.invalidURL, "certfile and keyfile go together: give both files of the client certificate, or neither")
        }
    }

    private static func number<T: FixedWidthInteger>(_ text: Substring, _ url: String) throws(AMQPError) -> T {
        guard let value = T(text) else { throw AMQPError(.invalidURL, "invalid number \(text) in \(Self.redacted(url))") }
        return value
    }

    /// Percent-decodes `text`; `part` names it in errors (never quoting a password).
    private static func percentDecoded(_ text: Substring, in part: String) throws(AMQPError) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                  let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { throw AMQPError(.invalidURL, "invalid percent escape in \(part)") }
            bytes.append(value)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw AMQPError(.invalidURL, "percent escapes in \(part) are not UTF-8")
        }
        return decoded
    }

    /// `url` with its password replaced by `***`, for messages and logs.
    public static func redacted(_ url: String) -> String {
        let prefix = url.hasPrefix("amqps://") ? "amqps://" : "amqp://"
        guard url.hasPrefix(prefix) else { return url }
        let start = url.index(url.startIndex, offsetBy: prefix.count)
        let authorityEnd = url[start...].firstIndex { $0 == "/" || $0 == "?" } ?? url.endIndex
        guard let at = url[start..<authorityEnd].lastIndex(of: "@"),
              let colon = url[start..<at].firstIndex(of: ":") else { return url }
        return url[..<url.index(after: colon)] + "***" + url[at...]
    }
}
