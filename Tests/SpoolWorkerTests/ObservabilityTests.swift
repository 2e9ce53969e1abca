import Foundation
import MetricsTestKit
import SpoolCore
import SpoolWorker
import Synchronization
import Testing

@Suite("Dispatcher observability")
struct ObservabilityTests {
    @Test("counters and timers count outcomes per queue and job name, and the observer sees each lifecycle event")
    func metricsAndEvents() async throws {
        let harness = try WorkerHarness()
        let metrics = TestMetrics()
        let seen = Mutex<[String]>([])
        let dispatcher = Dispatcher(store: harness.store, registry: harness.registry, configuration: harness.configuration(),
                                    observer: { event in seen.withLock { $0.append(event.name) } }, metrics: metrics)
        let running = Task { try await dispatcher.run() }
        let ok = try await harness.client.enqueue(NewJob(name: BuiltinJobs.noop, queue: "mail"))
        let flaky = try await harness.client.enqueue(NewJob(name: BuiltinJobs.fail, payload: #"{"times":1}"#))
        let doomed = try await harness.client.enqueue(NewJob(name: BuiltinJobs.fail, maxAttempts: 1))
        for id in [ok.id, flaky.id, doomed.id] { _ = try await harness.client.wait(for: id, timeout: .seconds(60)) }
        dispatcher.stop()
        try await running.value

        #expect(metrics.counterTotal(label: "spool_jobs_completed_total", dimensions: [("queue", "mail"), ("name", "spool.noop")]) == 1)
        #expect(metrics.counterTotal(label: "spool_jobs_completed_total", dimensions: [("name", "spool.fail")]) == 1)
        #expect(metrics.counterTotal(label: "spool_jobs_failed_total") == 2)
        #expect(metrics.counterTotal(label: "spool_jobs_retried_total") == 1)
        #expect(try metrics.expectTimer("spool_job_run_seconds", [("queue", "mail"), ("name", "spool.noop")]).values.count == 1)
        let names = seen.withLock { $0 }
        #expect(names.first == "registered" && names.dropFirst().first == "activated" && names.last == "deactivated")
        #expect(names.filter { $0 == "started" }.count == 4)
        #expect(names.filter { $0 == "ended" }.count == 4)
    }
}
