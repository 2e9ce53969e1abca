import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SpoolCore
import SpoolHTTP
import SpoolMirror
import SpoolServer
import SpoolSQLite
import SpoolWorker

/// `spool serve`: the HTTP API, the dashboard and an embedded dispatcher on one store.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API and the dashboard, with a dispatcher on the same store, until SIGTERM or SIGINT.",
        discussion: "SPOOL_TOKEN requires Authorization: Bearer <token> on every request; a non-loopback --listen needs it.")

    @Option(help: "Where to listen: HOST:PORT, [IPv6]:PORT or :PORT (port 0 picks a free one).")
    var listen = "127.0.0.1:7070"

    @Option(help: "Serve HTTPS (HTTP/2 or HTTP/1.1, and WSS) with this certificate chain, a PEM file; with --tls-key.")
    var tlsCert: String?

    @Option(help: "The private key of --tls-cert, a PEM file.")
    var tlsKey: String?

    @Flag(name: .customLong("no-worker"), help: "Serve the API only; separate `spool worker` processes run the jobs.")
    var noWorker = false

    @Flag(help: "Start on a fresh store (unless --store is given) with a steady trickle of demo jobs.")
    var demo = false

    @Option(help: "The largest request body accepted, in bytes.")
    var maxBody = 16 << 20

    @Option(help: "How many events a /v1/events client may fall behind; beyond that it is sent a lagged notice instead.")
    var eventBuffer = 1024

    @Option(help: "Seconds a /v1/events client that has fallen behind may take nothing before it is disconnected.")
    var eventLagLimit: Double = 10

    @Option(help: "Seconds after which an idle connection is closed.")
    var idleTimeout: Double = 60

    @Option(help: "The longest wait a client may ask for with GET /v1/jobs/{id}?wait=, in seconds.")
    var maxWait: Double = 300

    @Option(help: "The worker application relative URLs of POST /v1/http-jobs are resolved against (or SPOOL_HTTP_BASE_URL).")
    var httpBaseURL: String?

    @Option(help: "The queue of the /status probe job.")
    var probeQueue = NewJob.defaultQueue

    @Option(help: "Seconds /status waits for a dispatcher to run its probe job.")
    var probeTimeout: Double = 10

    @Option(help: "The entity types POST /v1/mirror/units checks units against (JSON, as spool mirror process --schema).")
    var mirrorSchema: String?

    @Option(help: "Where POST /v1/mirror/units publishes: table:QUEUE, amqp://…/VHOST/QUEUE or sqs://QUEUE.")
    var mirrorTransport: String?

    @Option(help: "Also be the SQLite store's replication primary: `spool secondary` processes connect to HOST:PORT (as `spool replicate --listen`).")
    var replicate: String?

    @Option(help: "With --replicate: acknowledge an enqueue (and let a job's end go on) only once N secondaries have it; without it replication is asynchronous.")
    var sync: Int?

    @Option(help: "With --sync: seconds to wait for the secondaries before an enqueue fails (it stays committed here).")
    var syncTimeout: Double = 10

    @OptionGroup var dispatcher: DispatcherOptions
    @OptionGroup var transport: TransportOptions
    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging(default: .notice)
        try await reportingErrors {
            var configuration = try serverConfiguration()
            var storeOptions = options
            if demo, options.store == nil, ProcessInfo.processInfo.environment["SPOOL_STORE"].map(\.isEmpty) ?? true {
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spool-demo-\(UUID().uuidString.prefix(8))").path
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                storeOptions.store = "sqlite:" + URL(fileURLWithPath: folder).appendingPathComponent("spool.db").path
            }
            let store = try await storeOptions.open()
            ReplicationReporting.configure(&configuration, store: store)
            let transports = try transport.named(store: store)
            configuration.mirror = try await mirrorDestination(store: store)
            let server = SpoolServer(store: store, configuration: configuration, transports: transports)
            var services: [any Service] = []
            if let tracing = try TraceExport.bootstrap(serviceName: "spool-serve") { services.append(tracing) }
            let follows = (store as? SQLiteStore)?.follows
            if let follows {
                Logger(label: "spool.events").notice("serving a read-only copy kept by spool secondary (following \(follows)): no worker runs, writes are refused")
            }
            if !noWorker, follows == nil {
                services.append(try dispatcher.makeDispatcher(store: store, storeOptions: storeOptions, observer: server.events.observer,
                                                              metrics: server.metrics.factory))
            }
            services.append(server)
            if let sync, replicate == nil || sync < 1 {
                throw SpoolError(.invalidArgument, sync < 1 ? "--sync must be at least 1" : "--sync needs --replicate")
            }
            if let replicate {
                let replication = try await ReplicationService(replicating: store, listen: replicate)
                if let sync, let sqlite = store as? SQLiteStore {
                    let primary = replication.primary, timeout = try duration(syncTimeout, "--sync-timeout")
                    sqlite.acknowledgeAfter { try await primary.replicated(by: sync, timeout: timeout) }
                }
                services.append(replication)
            }
            if demo { services.append(DemoTrickle(store: store, server: server)) }
            let announce = Task { await announceURL(server, store: storeOptions.storeURL) }
            defer { announce.cancel() }
            let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "spool.events"))
            try await group.run()
        }
    }

    private func serverConfiguration() throws -> ServerConfiguration {
        var configuration = try ServerConfiguration(listen: listen, token: ProcessInfo.processInfo.environment["SPOOL_TOKEN"])
        guard maxBody >= 1024 else { throw SpoolError(.invalidArgument, "--max-body must be at least 1024 bytes") }
        guard eventBuffer >= 1 else { throw SpoolError(.invalidArgument, "--event-buffer must be at least 1") }
        configuration.maxWait = try duration(maxWait.rounded(.up), "--max-wait")
        configuration.maxBodyBytes = maxBody
        switch (tlsCert, tlsKey) {
        case (nil, nil): break
        case let (certificate?, key?):
            KeyFiles.check(path: key, option: "--tls-key")
            configuration.tls = .init(certificate: certificate, key: key)
        default: throw SpoolError(.invalidArgument, "--tls-cert and --tls-key go together")
        }
        configuration.eventBuffer = eventBuffer
        configuration.eventLagLimit = try duration(eventLagLimit, "--event-lag-limit")
        configuration.idleTimeout = try duration(idleTimeout, "--idle-timeout")
        configuration.status.probeQueue = probeQueue
        configuration.status.probeTimeout = try duration(probeTimeout, "--probe-timeout")
        configuration.status.deadAfter = try duration(dispatcher.deadAfter, "--dead-after")
        var environment = ProcessInfo.processInfo.environment
        if let httpBaseURL { environment["SPOOL_HTTP_BASE_URL"] = httpBaseURL }
        configuration.httpBaseURL = try HTTPJobs.Configuration.fromEnvironment(environment).baseURL
        if demo {
            // The demo's jobs are signed requests to this server's demo app; without a secret
            // given, one for this run only, which the in-process dispatcher reads too.
            if (environment[HTTPSigningKeys.environmentVariable] ?? "").isEmpty {
                let secret = "demo:" + (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
                setenv(HTTPSigningKeys.environmentVariable, secret, 1)
                environment[HTTPSigningKeys.environmentVariable] = secret
            }
            configuration.pushDemoKeys = try HTTPSigningKeys.fromEnvironment(environment)
        }
        if let secret = environment["SPOOL_SUBSCRIBE_SECRET"], !secret.isEmpty {
            guard secret.utf8.count >= 16 else {
                throw SpoolError(.invalidArgument, "SPOOL_SUBSCRIBE_SECRET must be at least 16 bytes long")
            }
            configuration.subscribeTokens = SubscribeTokens(secret: secret.utf8)
        }
        return configuration
    }

    /// What `--mirror-schema` and `--mirror-transport` name, both or neither.
    private func mirrorDestination(store: any JobStore) async throws -> MirrorDestination? {
        switch (mirrorSchema, mirrorTransport) {
        case (nil, nil): return nil
        case let (schema?, transport?):
            let location = try TransportLocation(transport)
            let destination = try location.requireDestination(option: "--mirror-transport")
            return MirrorDestination(schema: try MirrorSchema.load(schema, option: "--mirror-schema"),
                                     transport: try await location.open(store: store, ordered: true), destination: destination)
        default:
            throw SpoolError(.invalidArgument, "--mirror-schema and --mirror-transport go together")
        }
    }

    /// Prints where the server listens once it is bound.
    private func announceURL(_ server: SpoolServer, store: String) async {
        guard let port = await server.port() else { return }
        let host = server.configuration.host.contains(":") ? "[\(server.configuration.host)]" : server.configuration.host
        print("Spool is serving store \(Redaction.url(store))")
        let scheme = server.configuration.scheme
        print("Dashboard: \(scheme)://\(host):\(port)/")
        if server.configuration.token != nil { print("Sign in a browser once with \(scheme)://\(host):\(port)/?token=<SPOOL_TOKEN>") }
        if demo {
            print("Demo jobs arrive every 0.2 s; the push demo is at \(scheme)://\(host):\(port)/demo; press Ctrl-C to stop.")
        }
        fflush(nil)
    }
}
