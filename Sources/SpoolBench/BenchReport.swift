import Foundation

/// What every workload of one `spool bench` run shares.
public struct BenchSettings: Codable, Sendable {
    /// Jobs for W1 and W2.
    public var jobs: Int
    /// How many jobs the worker runs at once (W2, W3).
    public var concurrency: Int
    /// W2's separate worker processes, sharing the concurrency; 0 drains in this process.
    public var workers: Int
    /// W1 single: how many tasks issue enqueue calls side by side.
    public var producers: Int
    /// Jobs per bulk request over HTTP.
    public var batch: Int
    /// Whether the jobs went in over HTTP.
    public var http: Bool
    /// Whether every job was a `spool.http` call of a no-op worker app.
    public var httpJobs = false
    /// W1 single: whether producers may run where their store serves calls best
    /// (``SpoolCore/AffineStore``; `false` with `--no-affinity`). It applies to a store that has
    /// such a place when the jobs go in directly, not over HTTP.
    public var affinity = true
    /// W3: jobs enqueued per second.
    public var rate: Double
    /// W3: seconds of enqueueing.
    public var duration: Double
    /// The store's durability, `normal` or `full`.
    public var durability: String
    /// The store, as the report names it (its URL without a password).
    public var store: String

    /// The concurrency of worker process `index` of `count` sharing ``concurrency``: an equal
    /// part, the remainder going one each to the first ones.
    func concurrencyShare(_ index: Int, of count: Int) -> Int {
        concurrency / count + (index < concurrency % count ? 1 : 0)
    }

    /// Creates settings.
    public init(jobs: Int, concurrency: Int, workers: Int, producers: Int, batch: Int, http: Bool, rate: Double, duration: Double,
                durability: String, store: String) {
        self.jobs = jobs
        self.concurrency = concurrency
        self.workers = workers
        self.producers = producers
        self.batch = batch
        self.http = http
        self.rate = rate
        self.duration = duration
        self.durability = durability
        self.store = store
    }
}

/// Per-job latencies of a W3 run, in milliseconds.
public struct LatencySummary: Codable, Sendable {
    /// The median.
    public var p50: Double
    /// The 99th percentile.
    public var p99: Double
    /// The longest.
    public var max: Double
    /// The mean.
    public var mean: Double

    /// The summary of `seconds`; zeros when empty.
    public init(seconds: [Double]) {
        let sorted = seconds.sorted()
        func at(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)] * 1000
        }
        p50 = at(0.5)
        p99 = at(0.99)
        max = (sorted.last ?? 0) * 1000
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count) * 1000
    }
}

/// One measured workload.
public struct BenchResult: Codable, Sendable {
    /// `w1-single`, `w1-bulk`, `w2`, `w2-dashboard` (HTTP refreshes during the drain), `w3` or
    /// `w3-process`.
    public var workload: String
    /// How many jobs it measured.
    public var jobs: Int
    /// How long it took.
    public var seconds: Double
    /// Jobs per second.
    public var perSecond: Double
    /// Jobs that never ran (or were never stored).
    public var lost: Int
    /// Jobs that ran (or were stored) more than once.
    public var duplicated: Int
    /// W3's per-job latencies.
    public var latency: LatencySummary?

    /// Creates a result; ``perSecond`` follows from `jobs` and `seconds`.
    public init(workload: String, jobs: Int, seconds: Double, lost: Int, duplicated: Int, latency: LatencySummary? = nil) {
        self.workload = workload
        self.jobs = jobs
        self.seconds = seconds
        self.perSecond = seconds > 0 ? Double(jobs) / seconds : 0
        self.lost = lost
        self.duplicated = duplicated
        self.latency = latency
    }

    /// Whether every job ran (or was stored) exactly once.
    public var isClean: Bool { lost == 0 && duplicated == 0 }
}

/// The whole run: the machine, the settings and the results, printed as a table or JSON.
public struct BenchReport: Codable, Sendable {
    /// The machine's cores.
    public var cores = ProcessInfo.processInfo.activeProcessorCount
    /// The machine's memory.
    public var memoryBytes = ProcessInfo.processInfo.physicalMemory
    /// The 1, 5 and 15 minute load averages when the run ended.
    public var loadAverage = BenchReport.currentLoad()
    /// What the workloads shared.
    public var settings: BenchSettings
    /// One result per workload, in the order they ran.
    public var results: [BenchResult]

    /// Creates the report of a run.
    public init(settings: BenchSettings, results: [BenchResult]) {
        self.settings = settings
        self.results = results
    }

    /// The results as a table: its header and one row per result.
    public var table: (header: [String], rows: [[String]]) {
        (["WORKLOAD", "JOBS", "SECONDS", "JOBS/S", "P50 MS", "P99 MS", "MAX MS", "LOST", "DUPLICATED"], results.map {
            [$0.workload, "\($0.jobs)", Self.number($0.seconds, 3), Self.number($0.perSecond),
             $0.latency.map { Self.number($0.p50, 3) } ?? "-", $0.latency.map { Self.number($0.p99, 3) } ?? "-",
             $0.latency.map { Self.number($0.max, 3) } ?? "-", "\($0.lost)", "\($0.duplicated)"]
        })
    }

    /// The lines printed under the table: the settings, the machine and the exactly-once check.
    public var summary: String {
        let check = results.allSatisfy(\.isClean) ? "check: every job ran exactly once" : "check: FAILED, jobs were lost or ran twice"
        return """
            store: \(settings.store), durability \(settings.durability), concurrency \(settings.concurrency), \
            producers \(settings.producers)\(settings.http ? ", over HTTP (\(settings.batch) jobs per bulk request)" : ""), \
            \(settings.workers > 0 ? "\(settings.workers) worker processes, " : "")\
            \(settings.httpJobs ? "spool.http jobs (signed POST to a no-op worker app), " : "")\
            w3 \(Self.number(settings.rate)) jobs/s for \(Self.number(settings.duration, 1)) s
            machine: \(cores) cores, \(memoryBytes >> 20) MiB, load average \(loadAverage.map { Self.number($0, 2) }.joined(separator: " "))
            \(check)
            """
    }

    private static func number(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }

    /// Writes the report as pretty-printed JSON to `path`.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    /// The 1, 5 and 15 minute load averages, or nothing where the system does not say.
    static func currentLoad() -> [Double] {
        var loads = [Double](repeating: 0, count: 3)
        return getloadavg(&loads, 3) == 3 ? loads : []
    }
}
