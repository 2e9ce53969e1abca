import ArgumentParser
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import SpoolCore
import SpoolHTTP
import SpoolWorker

/// The options that shape a dispatcher, shared by `spool worker` and `spool demo`.
struct DispatcherOptions: ParsableArguments {
    @Option(help: "How many jobs the main agent runs at once (default 3).")
    var concurrency: Int?

    @Option(name: .customLong("queue"), help: "Take jobs only from this queue (repeatable; default: every queue).")
    var queues: [String] = []

    @Option(name: .customLong("agent"), help: "An agent NAME=FILTER[:SIZE]; FILTER is name patterns and tag:T, comma-separated, any of which takes a job (repeatable; replaces main).")
    var agents: [String] = []

    @Option(help: "The order agents take jobs in: fifo or priority.")
    var policy: String = "fifo"

    @Option(name: .customLong("cron"), help: "A periodic job NAME=EXPRESSION=JOB[=PAYLOAD], fired once per tick across all workers (repeatable).")
    var cron: [String] = []

    @Option(help: "The file holding this dispatcher's UUID, held while it runs (default SPOOL_UUID_FILE, else the first free of uuid.txt, uuid-2.txt, ... beside the store).")
    var uuidFile: String?

    @Option(help: "Append every lifecycle event (job started, ended, rescued) as a JSON line to this file.")
    var journal: String?

    @Option(help: "With --journal: only these events, comma-separated (registered, activated, deactivated, started, ended, recorded, rescued).")
    var journalEvents: String?

    @Option(help: "Seconds between polls for work from other processes.")
    var pollInterval: Double = 0.5

    @Option(help: "Seconds between pings.")
    var pingInterval: Double = 2

    @Option(help: "Seconds of silence after which a dispatcher is declared dead and its jobs rescued.")
    var deadAfter: Double = 10

    @Option(help: "Seconds a running job may finish after shutdown begins before it is returned to its queue.")
    var grace: Double = 25

    @Option(help: "Seconds the store may take to answer a shutdown's last calls (returning unfinished jobs, recording the worker inactive) before the worker ends without them.")
    var shutdownTimeout: Double = 5

    @Option(help: "How long completed jobs are kept before they are deleted: seconds, or with s, m, h or d (0 keeps them forever).")
    var keepCompleted = "24h"

    @Option(help: "How long cancelled jobs are kept before they are deleted (0 keeps them forever).")
    var keepCancelled = "7d"

    @Option(help: "How long discarded jobs are kept before they are deleted (0 keeps them forever).")
    var keepDiscarded = "7d"

    /// The dispatcher configuration these options describe, for the dispatcher `id`.
    func configuration(id: UUID) throws -> DispatcherConfiguration {
        guard let policy = AgentPolicy(rawValue: policy) else {
            throw SpoolError(.invalidArgument, "unknown policy '\(policy)'; use fifo or priority")
        }
        var configuration = DispatcherConfiguration(id: id)
        configuration.queues = queues.isEmpty ? nil : queues
        if agents.isEmpty {
            let size = concurrency ?? AgentSpec.defaultSize
            guard size >= 1 else { throw SpoolError(.invalidArgument, "--concurrency must be at least 1") }
            configuration.agents = [AgentSpec(name: AgentSpec.mainName, size: size, policy: policy)]
        } else {
            configuration.agents = try agents.map { try AgentSpec(parsing: $0, policy: policy) }
            let names = configuration.agents.map(\.name)
            guard Set(names).count == names.count else { throw SpoolError(.invalidArgument, "agent names must be unique: \(names)") }
        }
        configuration.cron = try cron.map(CronSchedule.init(parsing:))
        configuration.pollInterval = try duration(pollInterval, "--poll-interval")
        configuration.pingInterval = try duration(pingInterval, "--ping-interval")
        configuration.deadAfter = try duration(deadAfter, "--dead-after")
        configuration.gracePeriod = try nonNegativeDuration(grace, "--grace")
        configuration.shutdownTimeout = try nonNegativeDuration(shutdownTimeout, "--shutdown-timeout")
        configuration.retention = Retention(completed: try Retention.parseAge(keepCompleted), cancelled: try Retention.parseAge(keepCancelled),
                                            discarded: try Retention.parseAge(keepDiscarded))
        try configuration.retention.validate()
        return configuration
    }
}

extension DispatcherOptions {
    /// The dispatcher these options describe on `store`, running the built-in jobs, with its UUID
    /// from `--uuid-file` (or the first free slot beside the store), its journal if asked for,
    /// and `observer` too.
    func makeDispatcher(store: any JobStore, storeOptions: StoreOptions, observer: DispatcherObserver? = nil,
                        metrics: (any MetricsFactory)? = nil) throws -> Dispatcher {
        let identity = try DispatcherIdentity.acquire(file: uuidFile, dataDirectory: storeOptions.dataDirectory())
        let configuration = try configuration(id: identity.id)
        let registry = JobRegistry()
        BuiltinJobs.register(into: registry)
        HTTPJobs.register(into: registry, configuration: try HTTPJobs.Configuration.fromEnvironment())
        if journalEvents != nil, journal == nil { throw SpoolError(.invalidArgument, "--journal-events needs --journal FILE") }
        let events = journalEvents.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        let journal = try journal.map { try DispatcherJournal(path: $0, dispatcher: configuration.id, events: events) }
        let observers: [DispatcherObserver] = [journal?.observer, observer].compactMap { $0 }
        var combined: DispatcherObserver?
        if !observers.isEmpty {
            combined = { event in
                for each in observers { each(event) }
            }
        }
        return Dispatcher(store: store, registry: registry, configuration: configuration, identity: identity, observer: combined,
                          metrics: metrics)
    }
}

/// `spool worker`: runs a dispatcher until SIGTERM or SIGINT.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run a dispatcher: claim and run jobs until SIGTERM or SIGINT.")

    @OptionGroup var dispatcher: DispatcherOptions
    @OptionGroup var options: StoreOptions

    func run() async throws {
        options.bootstrapLogging(default: .info)
        try await reportingErrors {
            let engine = try dispatcher.makeDispatcher(store: try await options.open(), storeOptions: options)
            let logger = Logger(label: "spool.events")
            logger.notice("spool worker \(engine.id.uuidString.lowercased()) on \(Redaction.url(options.storeURL))")
            let tracing = try TraceExport.bootstrap(serviceName: "spool-worker")
            let group = ServiceGroup(services: [tracing, engine].compactMap { $0 }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
        }
    }
}
