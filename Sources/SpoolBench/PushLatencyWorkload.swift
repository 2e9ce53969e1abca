import Foundation
import SpoolCore
import SpoolTestSupport
import Synchronization

/// W3 push: jobs enqueued at the W3 rate and run by a separate `spool worker` process; per job,
/// the time from its end as the worker recorded it (`finishedAt`, just before the commit that
/// makes it durable, to the millisecond) to the arrival of its `job.completed` event at a
/// `/v1/events` client of the bench's server in this process: the path a browser's push takes
/// (the store's announcement of another process's end, the server's read of the job, the
/// WebSocket).
enum PushLatencyWorkload {
    static func run(_ target: BenchTarget, _ settings: BenchSettings) async throws -> BenchResult {
        guard let server = target.server else { throw BenchFailure("w3-push needs the bench's HTTP server") }
        let total = LatencyWorkload.jobCount(settings)
        let client = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events?queue=\(target.queue)",
                                                           headers: ["Authorization": "Bearer \(server.token)"])
        defer { client.close() }
        let arrivals = Arrivals()
        let reader = Task {
            let decoder = JSONDecoder()
            while let text = try await client.nextText() {
                guard text.contains("\"job.completed\""),
                      let event = try? decoder.decode(Event.self, from: Data(text.utf8)),
                      let finished = event.job.finishedAt.flatMap(ISO8601.parse) else { continue }
                arrivals.record(event.job.id, latency: Date().timeIntervalSince(finished))
            }
        }
        defer { reader.cancel() }
        let worker = try await WorkerProcess.start(target, concurrency: settings.concurrency)
        let seconds: Double
        do {
            seconds = try await LatencyWorkload.produce(target, settings, label: "w3 push (separate worker process, events client)") { _, _ in }
            let deadline = ContinuousClock.now + .seconds(60)
            while arrivals.count < total, ContinuousClock.now < deadline, worker.isRunning {
                try await Task.sleep(for: .milliseconds(50))
            }
        } catch {
            await worker.stop()
            throw error
        }
        await worker.stop()
        let completed = try await target.counts()[.completed] ?? 0
        return BenchResult(workload: "w3-push", jobs: total, seconds: seconds, lost: total - completed, duplicated: arrivals.duplicates,
                           latency: LatencySummary(seconds: arrivals.latencies))
    }

    private struct Event: Decodable {
        struct Ended: Decodable {
            var id: JobID
            var finishedAt: String?
        }

        var job: Ended
    }

    /// The latency of each job's first event, and how many came twice.
    private final class Arrivals: Sendable {
        private struct State {
            var latencies: [JobID: Double] = [:]
            var duplicates = 0
        }

        private let state = Mutex(State())

        func record(_ id: JobID, latency: Double) {
            state.withLock { state in
                if state.latencies[id] == nil { state.latencies[id] = latency } else { state.duplicates += 1 }
            }
        }

        var count: Int { state.withLock { $0.latencies.count } }
        var duplicates: Int { state.withLock { $0.duplicates } }
        var latencies: [Double] { state.withLock { Array($0.latencies.values) } }
    }
}
