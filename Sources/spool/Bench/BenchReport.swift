import Foundation

/// What every workload of one `spool bench` run shares.
struct BenchSettings: Codable, Sendable {
    var jobs: Int
    var concurrency: Int
    /// W2's separate worker processes, sharing the concurrency; 0 drains in this process.
    var workers: Int
    var producers: Int
    /// Jobs per bulk request over HTTP.
    var batch: Int
    /// Whether the jobs went in over HTTP.
    var http: Bool
    var rate: Double
    var duration: Double
    var durability: String
    var store: String
}

/// Per-job latencies of a W3 run, in milliseconds.
struct LatencySummary: Codable, Sendable {
    var p50: Double
    var p99: Double
    var max: Double
    var mean: Double

    /// The summary of `seconds`; zeros when empty.
    init(seconds: [Double]) {
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
struct BenchResult: Codable, Sendable {
    /// `w1-single`, `w1-bulk`, `w2`, `w2-dashboard` (HTTP refreshes during the drain), `w3` or
    /// `w3-process`.
    var workload: String
    var jobs: Int
    var seconds: Double
    var perSecond: Double
    var lost: Int
    var duplicated: Int
    var latency: LatencySummary?

    init(workload: String, jobs: Int, seconds: Double, lost: Int, duplicated: Int, latency: LatencySummary? = nil) {
        self.workload = workload
        self.jobs = jobs
        self.seconds = seconds
        self.perSecond = seconds > 0 ? Double(jobs) / seconds : 0
        self.lost = lost
        self.duplicated = duplicated
        self.latency = latency
    }

    var isClean: Bool { lost == 0 && duplicated == 0 }
}

/// The whole run: the machine, the settings and the results, printed as a table or JSON.
struct BenchReport: Codable, Sendable {
    var cores = ProcessInfo.processInfo.activeProcessorCount
    var memoryBytes = ProcessInfo.processInfo.physicalMemory
    var loadAverage = BenchReport.currentLoad()
    var settings: BenchSettings
    var results: [BenchResult]

    init(settings: BenchSettings, results: [BenchResult]) {
        self.settings = settings
        self.results = results
    }

    func printTable() {
        func number(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
        print("")
        Output.table(["WORKLOAD", "JOBS", "SECONDS", "JOBS/S", "P50 MS", "P99 MS", "MAX MS", "LOST", "DUPLICATED"], results.map {
            [$0.workload, "\($0.jobs)", number($0.seconds, 3), number($0.perSecond),
             $0.latency.map { number($0.p50, 3) } ?? "-", $0.latency.map { number($0.p99, 3) } ?? "-",
             $0.latency.map { number($0.max, 3) } ?? "-", "\($0.lost)", "\($0.duplicated)"]
        })
        print("""

            store: \(settings.store), durability \(settings.durability), concurrency \(settings.concurrency), \
            producers \(settings.producers)\(settings.http ? ", over HTTP (\(settings.batch) jobs per bulk request)" : ""), w3 \(number(settings.rate)) jobs/s for \(number(settings.duration, 1)) s
            machine: \(cores) cores, \(memoryBytes >> 20) MiB, load average \(loadAverage.map { number($0, 2) }.joined(separator: " "))
            """)
        let clean = results.allSatisfy(\.isClean)
        print(clean ? "check: every job ran exactly once" : "check: FAILED, jobs were lost or ran twice")
    }

    func write(to path: String) throws {
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
