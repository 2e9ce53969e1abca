import ArgumentParser
import Foundation
import SpoolBench
import SpoolCore
import SpoolSQLite

/// `spool bench`: the workloads of DESIGN §12 (W1 enqueue, W2 drain, W3 latency) against a fresh
/// embedded store, or against any store named by `--store`, each run checked for lost and
/// duplicated jobs.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure enqueue (w1), drain (w2) and latency (w3) on a store, checking that no job is lost or run twice.",
        discussion: """
            Without --store every workload gets a fresh SQLite file in a temporary directory. With --store \
            each workload uses a queue of its own (bench-WORKLOAD-ID) in that store and leaves its jobs there.
            w1 single: one call per job, each call awaiting its own durable commit; with --producers N, N tasks \
            issue such calls side by side (group commit shares transactions between them). Each producer runs \
            where the store serves calls best (PostgreSQL: on an event loop of its connections, as \
            PostgresStore.withAffinity runs code) unless --no-affinity.
            w2 with --workers N drains with N separate `spool worker` processes on the store, sharing \
            --concurrency; it runs from the first job's start to the last job's end in their journals.
            w3 measures, per job, the time from the enqueue call to the start of its code; w3-process runs the \
            jobs in a separate `spool worker` process on the same store. w3-push enqueues at the w3 rate, runs \
            the jobs in a separate worker and measures, per job, from its recorded end to the arrival of its \
            job.completed event at a /v1/events client of a `spool serve` in this process (the push path).
            With --http-jobs every job is a spool.http call: a signed POST of {"i": n} to a no-op worker app \
            (`spool bench-app`, a process of its own that checks each signature and answers 204), over the \
            worker's pooled keep-alive connections.
            With --http the jobs go in through `spool serve` started in this process on a free loopback port \
            (with a token), over keep-alive connections, one per producer: w1 single posts one job per request, \
            w1 bulk posts --batch jobs per request, w2 fills its queue by bulk requests and, while it drains, \
            times a dashboard refresh (queues, dispatchers, stats) every 100 ms (row w2-dashboard); w3 posts \
            each job and measures from just before the request.
            """)

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case w1, w2, w3
        case w3Process = "w3-process"
        case w3Push = "w3-push"
        case soak
        case all
    }

    @Argument(help: "w1 (enqueue, single and bulk), w2 (drain), w3 (latency, in process), w3-process (latency, separate worker), w3-push (end to event, separate worker) or all.")
    var workload: Workload = .all

    @Option(help: "Jobs for w1 and w2.")
    var jobs: Int = 20_000

    @Option(help: "How many jobs the worker runs at once (w2, w3).")
    var concurrency: Int = 50

    @Option(help: "w2: drain with this many separate `spool worker` processes sharing --concurrency (0: in this process).")
    var workers: Int = 0

    @Option(help: "w1 single: how many tasks issue enqueue calls side by side, each call awaiting its own commit.")
    var producers: Int = 1

    @Flag(help: "w1 single: producers call the store from wherever they run, not from where it serves calls best (PostgreSQL: an event loop of its connections).")
    var noAffinity = false

    @Option(help: "w3: jobs enqueued per second.")
    var rate: Double = 200

    @Option(help: "w3: seconds of enqueueing.")
    var duration: Double = 10

    @Flag(help: "Enqueue over HTTP through a `spool serve` in this process instead of calling the store.")
    var http = false

    @Flag(help: "Every job is a spool.http call (POST, signed) of a no-op worker app started in a process of its own.")
    var httpJobs = false

    @Option(help: "With --http: jobs per bulk request (w1 bulk, w2's fill).")
    var batch: Int = 1000

    @Flag(help: "w3 runs its jobs in a separate `spool worker` process (as w3-process does).")
    var workerProcess = false

    @Option(help: "Write the results as JSON to this file.")
    var output: String?

    @OptionGroup var options: StoreOptions

    func run() async throws {
        StoreOptions.bootstrapQuietLogging()
        try await reportingErrors {
            let settings = try settings()
            // With OTEL_EXPORTER_OTLP_ENDPOINT set, the runs are traced and exported as by spool worker.
            let exporter = try TraceExport.bootstrap(serviceName: "spool-bench").map { service in Task { try await service.run() } }
            defer { exporter?.cancel() }
            var results: [BenchResult] = []
            let options = options
            for step in steps {
                let target = try await BenchTarget.open(store: options.store, durability: options.durability, workload: step.rawValue,
                                                        http: http || step.needsServer, httpJobs: httpJobs, executable: Self.executablePath) { url, durability in
                    var opening = options
                    opening.store = url
                    opening.durability = durability
                    return try await opening.open()
                }
                results.append(contentsOf: try await step.run(on: target, settings))
                try await target.close()
            }
            let report = BenchReport(settings: settings, results: results)
            if options.json {
                try Output.json(report)
            } else {
                print("")
                Output.table(report.table.header, report.table.rows)
                print("\n" + report.summary)
            }
            if let output { try report.write(to: output) }
            if let bad = results.first(where: { !$0.isClean }) {
                fail("\(bad.workload): \(bad.lost) jobs lost, \(bad.duplicated) ran twice")
            }
        }
    }

    /// This executable, to start separate workers with.
    static var executablePath: String {
        #if os(Linux)
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
        #endif
        return URL(fileURLWithPath: CommandLine.arguments[0]).path
    }

    private var steps: [BenchStep] {
        switch workload {
        case .w1: [.enqueueSingle, .enqueueBulk]
        case .w2: [.drain]
        case .w3: [workerProcess ? .latencyProcess : .latency]
        case .w3Process: [.latencyProcess]
        case .w3Push: [.push]
        case .soak: [.soak]
        case .all: [.enqueueSingle, .enqueueBulk, .drain] + (workerProcess ? [.latencyProcess] : [.latency, .latencyProcess])
        }
    }

    private func settings() throws -> BenchSettings {
        guard jobs >= 1, concurrency >= 1, producers >= 1, batch >= 1 else {
            throw SpoolError(.invalidArgument, "--jobs, --concurrency, --producers and --batch must be at least 1")
        }
        guard (0...concurrency).contains(workers) else {
            throw SpoolError(.invalidArgument, "--workers must be between 0 and --concurrency")
        }
        guard workers == 0 || !http else { throw SpoolError(.invalidArgument, "--workers and --http cannot be combined") }
        guard rate.isFinite, rate > 0, duration.isFinite, duration > 0 else {
            throw SpoolError(.invalidArgument, "--rate and --duration must be positive numbers")
        }
        guard Durability(rawValue: options.durability) != nil else {
            throw SpoolError(.invalidArgument, "unknown durability '\(options.durability)'; use normal or full")
        }
        var settings = BenchSettings(jobs: jobs, concurrency: concurrency, workers: workers, producers: producers, batch: batch, http: http,
                                     rate: rate, duration: duration, durability: options.durability,
                                     store: options.store.map(Redaction.url) ?? "sqlite (fresh file)")
        settings.httpJobs = httpJobs
        settings.affinity = !noAffinity
        return settings
    }
}
