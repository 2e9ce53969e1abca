import Foundation
import SpoolCore

/// The soak: `--jobs` enqueued in bulk (straight into the store), then drained by `--workers` separate `spool worker`
/// processes (at least one) with retention on (completed jobs kept 60 s, the shortest allowed),
/// watched once a second: jobs drained, the store's size on disk, each worker's resident
/// memory, and how long the dashboard's refresh (queues, dispatchers, stats over HTTP) takes.
/// Reports the drain rate of each tenth of the jobs (the first and the last compared), the
/// size and memory at the start, peak and end, and the refreshes' latency.
enum SoakWorkload {
    /// Jobs enqueued per call while filling the store.
    static let chunk = 50_000

    static func run(_ target: BenchTarget, _ settings: BenchSettings) async throws -> [BenchResult] {
        guard let server = target.server else { throw BenchFailure("the soak needs the bench's server for its dashboard probe") }
        let total = settings.jobs
        let fill = BenchProgress("soak fill", total: total)
        for first in stride(from: 0, to: total, by: chunk) {
            _ = try await target.store.insert((first..<min(first + chunk, total)).map(target.newJob), now: Date())
            fill.advance(by: min(chunk, total - first))
        }
        fill.finish()

        let count = max(1, settings.workers)
        var workers: [WorkerProcess] = []
        for index in 0..<count {
            let share = settings.concurrencyShare(index, of: count)
            workers.append(try await WorkerProcess.start(target, concurrency: share, name: "soak-\(index + 1)", journal: false,
                                                         arguments: ["--keep-completed", "60"]))
        }
        let probe = try await DashboardProbe.start(server)
        let progress = BenchProgress("soak drain (\(count) worker process\(count == 1 ? "" : "es"), concurrency \(settings.concurrency))", total: total)
        var samples: [Sample] = []
        let start = ContinuousClock.now
        let deadline = start + .seconds(max(300, Double(total) / 1_000))
        do {
            while ContinuousClock.now < deadline, workers.allSatisfy(\.isRunning) {
                let counts = try await target.counts()
                let waiting = [JobState.available, .running, .scheduled, .retryable].reduce(0) { $0 + (counts[$1] ?? 0) }
                let sample = Sample(seconds: (ContinuousClock.now - start).seconds, drained: total - waiting, kept: counts[.completed] ?? 0,
                                    storeBytes: target.bytesOnDisk(), workerBytes: workers.map(\.residentBytes).reduce(0, +))
                samples.append(sample)
                progress.set(sample.drained)
                if waiting == 0 { break }
                try await Task.sleep(for: .seconds(1))
            }
        } catch {
            _ = await probe.stop()
            for worker in workers { await worker.stop() }
            throw error
        }
        progress.finish()
        let refreshes = await probe.stop()
        for worker in workers { await worker.stop() }
        let drained = samples.last?.drained ?? 0
        let seconds = samples.last?.seconds ?? 0
        print(report(samples, total: total))
        return [
            BenchResult(workload: "soak", jobs: total, seconds: seconds, lost: total - drained, duplicated: 0),
            BenchResult(workload: "soak-dashboard", jobs: refreshes.count, seconds: seconds, lost: 0, duplicated: 0,
                        latency: LatencySummary(seconds: refreshes)),
        ]
    }

    /// One look at the soak.
    struct Sample {
        var seconds: Double
        var drained: Int
        /// Completed jobs still in the store (the others retention deleted).
        var kept: Int
        var storeBytes: Int64?
        var workerBytes: Int64
    }

    /// The drain rate per tenth of the jobs, and the store's size and the workers' memory.
    static func report(_ samples: [Sample], total: Int) -> String {
        var lines = ["soak: drain rate per tenth of the jobs (jobs/s, from the samples a second apart):"]
        var rates: [Double] = []
        for tenth in 1...10 {
            let target = total * tenth / 10, from = total * (tenth - 1) / 10
            guard let end = samples.first(where: { $0.drained >= target }),
                  let begin = samples.last(where: { $0.drained <= from }) ?? samples.first else { continue }
            let rate = Double(end.drained - begin.drained) / max(end.seconds - begin.seconds, 0.001)
            rates.append(rate)
            lines.append("  \(tenth * 10)%: \(Int(rate))")
        }
        if let first = rates.first, let last = rates.last, first > 0 {
            lines.append("  last tenth vs first: \(String(format: "%+.1f", (last / first - 1) * 100)) %")
        }
        if let last = samples.last {
            let deleted = last.drained - last.kept
            lines.append("soak: retention deleted \(deleted) completed jobs (\(Int(Double(deleted) / max(last.seconds, 0.001)))/s over the drain), \(last.kept) kept at the end")
        }
        func megabytes(_ bytes: Int64?) -> String { bytes.map { String(format: "%.1f MB", Double($0) / 1e6) } ?? "n/a" }
        let stores = samples.compactMap(\.storeBytes), memory = samples.map(\.workerBytes)
        lines.append("soak: store on disk start \(megabytes(stores.first)), peak \(megabytes(stores.max())), end \(megabytes(stores.last))")
        lines.append("soak: workers' resident memory start \(megabytes(memory.first)), peak \(megabytes(memory.max())), end \(megabytes(memory.last))")
        return lines.joined(separator: "\n")
    }
}
