import Foundation
import SpoolCore
import SpoolReplication
import SpoolHTTP

/// How `spool serve` listens and what it accepts.
public struct ServerConfiguration: Sendable {
    /// The address to bind: a host name or IP address.
    public var host = "127.0.0.1"
    /// The TCP port; 0 picks a free one.
    public var port = 7070
    /// With a token, every request needs `Authorization: Bearer <token>` (or the dashboard's
    /// cookie). Required for a non-loopback address.
    public var token: String?
    /// The largest request body accepted, in bytes (default 16 MiB); larger is refused with 413.
    public var maxBodyBytes = 16 << 20
    /// How many events a `/v1/events` client may fall behind; further events are dropped and
    /// the client is told how many with a `lagged` message.
    public var eventBuffer = 1024
    /// How long a `/v1/events` client whose events are being dropped may take nothing before
    /// it is cut off as stuck.
    public var eventLagLimit: Duration = .seconds(10)
    /// Connections idle this long are closed; `nil` keeps them open.
    public var idleTimeout: Duration? = .seconds(60)
    /// A request head (request line and headers) must arrive within this time of its first
    /// byte, or of the connection's opening; else 408 and the connection is closed.
    public var headTimeout: Duration = .seconds(10)
    /// A request body may pause this long between two of its parts; else 408 and close.
    public var bodyTimeout: Duration = .seconds(30)
    /// How many connections may be open at once; more are answered 503 and closed.
    public var maxConnections = 1024
    /// The longest `GET /v1/jobs/{id}?wait=` a client may ask for.
    public var maxWait: Duration = .seconds(300)
    /// How often a long poll re-reads a job that other processes may finish.
    public var waitPollInterval: Duration = .seconds(1)
    /// The status self-test's settings.
    public var status = StatusCheck.Configuration()
    /// The worker application relative `url`s of `POST /v1/http-jobs` are resolved against.
    public var httpBaseURL: URL?
    /// What makes and checks the `subscribeToken` of every enqueued job; by default a random
    /// secret, so tokens are good for this process only (`spool serve` takes
    /// `SPOOL_SUBSCRIBE_SECRET` to share them among servers and across restarts).
    public var subscribeTokens = SubscribeTokens.random()
    /// With keys, the server also serves the push demo (`GET /demo`) and the worker app its jobs
    /// call, which checks their signatures with these keys (`spool serve --demo`).
    public var pushDemoKeys: HTTPSigningKeys?
    /// Where `POST /v1/mirror/units` publishes; `nil` answers it 404 (`spool serve
    /// --mirror-schema FILE --mirror-transport LOCATION`).
    public var mirror: MirrorDestination?

    /// How the store's replication stands, for `/v1/stats` and the dashboard (`nil`: not replicated).
    public var replicationStatus: @Sendable () -> ReplicationStatus? = { nil }

    /// Lines appended to every `/metrics` answer (Prometheus text), such as replication lag.
    public var additionalMetrics: @Sendable () -> String = { "" }

    /// HTTPS with this certificate (HTTP/2 for clients that offer it by ALPN, else HTTP/1.1; WSS
    /// for the dashboard and events); plain HTTP/1.1 when `nil`.
    public var tls: TLSFiles?

    /// The server's certificate chain and private key, PEM files (`spool serve --tls-cert --tls-key`).
    public struct TLSFiles: Sendable, Hashable {
        /// The certificate chain, the server's own first.
        public var certificate: String
        /// The certificate's private key.
        public var key: String
        /// Names the files.
        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    /// `https` with ``tls``, else `http`.
    public var scheme: String { tls == nil ? "http" : "https" }

    /// Creates the defaults: 127.0.0.1:7070, no token.
    public init() {}

    /// The configuration listening on `address` (`HOST:PORT`, `[IPv6]:PORT` or `:PORT`).
    public init(listen address: String, token: String?) throws {
        let (host, port) = try ServerConfiguration.parse(listen: address)
        self.host = host
        self.port = port
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        try checkSecure()
    }

    /// Throws when the address is not loopback and no token guards it.
    public func checkSecure() throws {
        guard token == nil, !ServerConfiguration.isLoopback(host) else { return }
        throw SpoolError(.invalidArgument, "refusing to listen on \(host):\(port) without a token: anyone who reaches it could run jobs; "
                         + "set SPOOL_TOKEN to require a bearer token, or listen on 127.0.0.1")
    }

    /// Splits the `HOST:PORT` an option (`option`) gave; the host defaults to 127.0.0.1.
    public static func hostAndPort(_ address: String, option: String) throws -> (host: String, port: Int) {
        do {
            return try parse(listen: address)
        } catch let error as SpoolError {
            throw SpoolError(error.code, error.message.replacingOccurrences(of: "--listen", with: option))
        }
    }

    /// Splits `HOST:PORT`; the host defaults to 127.0.0.1.
    static func parse(listen address: String) throws -> (String, Int) {
        let invalid = SpoolError(.invalidArgument, "--listen '\(address)' must look like HOST:PORT, [IPv6]:PORT or :PORT")
        guard let colon = address.lastIndex(of: ":") else { throw invalid }
        var host = String(address[..<colon])
        guard let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else { throw invalid }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { throw invalid }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            throw invalid
        }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    /// Whether `host` names the loopback interface only.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// A bearer token compared in constant time.
struct AccessToken: Sendable {
    private let expected: [UInt8]

    init(_ token: String) { expected = Array(token.utf8) }

    /// Whether `given` is the token; the time taken does not depend on where they differ.
    func matches(_ given: Substring) -> Bool {
        let bytes = Array(given.utf8)
        var difference: UInt8 = bytes.count == expected.count ? 0 : 1
        for index in expected.indices {
            difference |= expected[index] ^ (index < bytes.count ? bytes[index] : 0)
        }
        return difference == 0
    }
}
