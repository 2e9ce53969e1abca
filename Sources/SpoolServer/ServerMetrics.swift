import Foundation
import Prometheus
import SpoolCore
import Synchronization

/// The server's Prometheus registry: the embedded dispatcher's swift-metrics counters and
/// histograms (`spool_jobs_completed_total`, `spool_job_run_seconds`, `spool_job_wait_seconds`,
/// …, per queue and job name), the server's own `spool_jobs_enqueued_total`, and gauges read
/// from the store at each scrape (queue depth per state, live dispatchers, quota use).
///
/// Counters count what this process did; gauges show the whole store.
public final class ServerMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory to hand the embedded dispatcher.
    public let factory: PrometheusMetricsFactory
    private let quotasSeen = Mutex<Set<String>>([])
    /// How many cut-off clients the counter has been told of.
    private let cutOffCounted = Mutex(0)

    /// A fresh registry with duration buckets from 1 ms to 60 s.
    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        self.factory = factory
    }

    /// Counts jobs stored through this server.
    func enqueued(_ jobs: [Job]) {
        var counts: [[String]: Int] = [:]
        for job in jobs { counts[[job.queue, job.name], default: 0] += 1 }
        for (key, count) in counts {
            registry.makeCounter(descriptor: Self.describe("spool_jobs_enqueued_total", "Jobs stored through this server."),
                                 labels: [("queue", key[0]), ("name", key[1])]).increment(by: Int64(count))
        }
    }

    private static let help: [String: String] = [
        "spool_event_clients": "Clients of /v1/events now.",
        "spool_event_clients_cut_off_total": "Clients of /v1/events disconnected for falling behind, since start.",
        "spool_queue_jobs": "Jobs per queue and state.",
        "spool_queue_paused": "1 when the queue is paused.",
        "spool_dispatchers_live": "Dispatchers that pinged within the dead-after time.",
        "spool_dispatchers": "Dispatchers per recorded state.",
        "spool_quota_size": "How many jobs naming the quota may run at once.",
        "spool_quota_running": "Running jobs that name the quota.",
        "spool_store_up": "1 when the last scrape could read the store.",
    ]

    private static func describe(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private func gauge(_ name: String, labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(descriptor: Self.describe(name, Self.help[name] ?? ""), labels: labels)
    }

    /// Reads the store's queues, dispatchers and quotas into the gauges.
    func refresh(store: any JobStore, events: ServerEvents, deadAfter: Duration) async {
        gauge("spool_event_clients").set(to: Double(events.subscriberCount))
        let cutOff = events.cutOffCount
        let newlyCutOff = cutOffCounted.withLock { counted in
            defer { counted = max(counted, cutOff) }
            return max(0, cutOff - counted)
        }
        registry.makeCounter(descriptor: Self.describe("spool_event_clients_cut_off_total", Self.help["spool_event_clients_cut_off_total"]!))
            .increment(by: Int64(newlyCutOff))
        do {
            let queues = try await store.queues(), dispatchers = try await store.dispatchers(), quotas = try await store.quotas()
            for queue in queues {
                for state in JobState.allCases {
                    gauge("spool_queue_jobs", labels: [("queue", queue.name), ("state", state.rawValue)])
                        .set(to: Double(queue.counts[state] ?? 0))
                }
                gauge("spool_queue_paused", labels: [("queue", queue.name)]).set(to: queue.paused ? 1 : 0)
            }
            gauge("spool_dispatchers_live").set(to: Double(StatusCheck.live(dispatchers, now: Date(), deadAfter: deadAfter).count))
            for state in [DispatcherState.active, .inactive, .dead] {
                gauge("spool_dispatchers", labels: [("state", state.rawValue)])
                    .set(to: Double(dispatchers.filter { $0.state == state }.count))
            }
            let names = Set(quotas.map(\.name))
            let removed = quotasSeen.withLock { seen in
                defer { seen = names }
                return seen.subtracting(names)
            }
            for quota in quotas {
                gauge("spool_quota_size", labels: [("quota", quota.name)]).set(to: Double(quota.size))
                gauge("spool_quota_running", labels: [("quota", quota.name)]).set(to: Double(quota.running.count))
            }
            for name in removed {
                gauge("spool_quota_size", labels: [("quota", name)]).set(to: 0)
                gauge("spool_quota_running", labels: [("quota", name)]).set(to: 0)
            }
            gauge("spool_store_up").set(to: 1)
        } catch {
            gauge("spool_store_up").set(to: 0)
        }
    }

    /// The Prometheus text exposition of every metric.
    func render() -> [UInt8] { registry.emitToBuffer() }
}
