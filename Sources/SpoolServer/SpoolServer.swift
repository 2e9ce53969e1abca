import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import SpoolCore
import Synchronization

/// Spool's HTTP server: the JSON API of `/v1`, the `/v1/events` WebSocket, the `/status`
/// self-test, Prometheus `/metrics`, `/openapi.yaml` and the dashboard at `/`.
///
/// Run it in a `ServiceGroup` beside a ``SpoolWorker/Dispatcher`` on the same store (give the
/// dispatcher ``ServerEvents/observer`` and ``ServerMetrics/factory`` so its events stream and
/// its metrics are exported); a graceful shutdown stops accepting connections and lets requests
/// in flight finish.
public final class SpoolServer: Service, Sendable {
    /// How the server listens and what it accepts.
    public let configuration: ServerConfiguration
    /// The event hub `/v1/events` streams from.
    public let events: ServerEvents
    /// The metrics `/metrics` renders.
    public let metrics: ServerMetrics
    private let api: SpoolAPI
    private let logger: Logger
    private let bound = BoundPort()
    private let connections = ConnectionCount()

    /// A server over `store`; `transports` are checked by the status self-test.
    public init(store: any JobStore, configuration: ServerConfiguration, events: ServerEvents = ServerEvents(),
                metrics: ServerMetrics = ServerMetrics(), transports: [StatusCheck.NamedTransport] = [],
                logger: Logger = Logger(label: "spool.events")) {
        self.configuration = configuration
        self.events = events
        self.metrics = metrics
        self.logger = logger
        api = SpoolAPI(store: store, events: events, metrics: metrics, configuration: configuration,
                       status: StatusCheck(store: store, configuration: configuration.status, transports: transports))
    }

    /// How many connections are open now.
    public var openConnections: Int { connections.value.load(ordering: .relaxed) }

    /// The port the server listens on once it is bound; `nil` if it stopped or never bound.
    public func port() async -> Int? { await bound.value() }

    /// Enqueues jobs as `POST /v1/jobs` does: counted in the metrics and announced to
    /// `/v1/events` clients.
    @discardableResult
    public func enqueue(_ jobs: [NewJob]) async throws -> [InsertResult] {
        try await api.insert(jobs, now: Date())
    }

    /// Serves until a graceful shutdown of the service group.
    public func run() async throws {
        let router = Router(context: BasicRequestContext.self)
        let table = RouteTable()
        router.add(middleware: ErrorMiddleware(logger: logger))
        router.add(middleware: MethodNotAllowedMiddleware(table: table))
        router.add(middleware: OriginMiddleware())
        let token = configuration.token.map(AccessToken.init)
        if let token { router.add(middleware: AuthMiddleware(token: token)) }
        api.addRoutes(to: router, table: table)
        let api = self.api
        let idle = configuration.idleTimeout.map { TimeAmount.nanoseconds($0.clampedNanoseconds) }
        let channel = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(idleTimeout: idle),
            ws: .init(maxFrameSize: 1 << 16, autoPing: .enabled(timePeriod: .seconds(30))))
        let bound = self.bound, logger = self.logger
        let limits = HTTPLimits(configuration)
        let connections = self.connections
        let tls = try configuration.tls.map(Self.tlsConfiguration), idleTimeout = configuration.idleTimeout
        let server = HTTPServerBuilder { responder -> any ServerChildChannel in
            let plain = SpoolHTTPChannel(
                inner: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: channel) { head, channel, _ in
                    api.shouldUpgrade(head, channel: channel, token: token)
                },
                limits: limits, connections: connections,
                canUpgrade: { head in api.canUpgrade(path: head.uri, token: token) { head.headers[$0].first } })
            guard let tls else { return plain }
            return try SpoolSecureChannel(http1: plain, tls: tls, idleTimeout: idleTimeout)
        }
        let application = Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port
                let host = channel.localAddress?.ipAddress ?? "?"
                logger.notice("spool serve listening on \(host.contains(":") ? "[\(host)]" : host):\(port.map(String.init) ?? "?")")
                bound.set(port)
            },
            logger: Self.requestLogger)
        defer { bound.set(nil) }
        let relay = Task { [store = api.store, events] in await EndRelay(store: store, events: events).run() }
        defer { relay.cancel() }
        try await application.run()
    }

    /// The logger Hummingbird derives each request's logger from.
    private static var requestLogger: Logger {
        var logger = Logger(label: "spool.trace")
        logger.handler = DeferredMetadataLogHandler(wrapping: logger.handler)
        return logger
    }
}

extension SpoolServer {
    /// The server side of TLS for `files`; throws naming a file that cannot be read.
    static func tlsConfiguration(_ files: ServerConfiguration.TLSFiles) throws -> TLSConfiguration {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(files.certificate).map { NIOSSLCertificateSource.certificate($0) }
            guard !chain.isEmpty else { throw SpoolError(.invalidArgument, "no certificate in \(files.certificate)") }
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain,
                                                            privateKey: .privateKey(try NIOSSLPrivateKey(file: files.key, format: .pem)))
        } catch let error as SpoolError {
            throw error
        } catch {
            throw SpoolError(.invalidArgument, "cannot use the TLS certificate \(files.certificate) with its key \(files.key): \(error)")
        }
    }
}

/// The listening port, awaited by callers until the server is bound (or gone).
private final class BoundPort: Sendable {
    private struct State {
        var settled = false
        var port: Int?
        var waiters: [CheckedContinuation<Int?, Never>] = []
    }

    private let state = Mutex(State())

    func set(_ port: Int?) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int?, Never>] in
            guard !state.settled else { return [] }
            state.settled = true
            state.port = port
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    func value() async -> Int? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Int?? in
                if state.settled { return .some(state.port) }
                state.waiters.append(continuation)
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
