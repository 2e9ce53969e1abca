import Foundation
import SpoolServer
import SpoolTestSupport
import Testing

@Suite("HTTP API: /status and /metrics")
struct StatusTests {
    @Test("with a dispatcher every part works: 200, JSON by default, HTML for a browser")
    func green() async throws {
        try await withServer(transports: true) { server in
            let response = try await server.request("GET", "/status")
            #expect(response.status == 200, "\(response.text)")
            let report = try response.decode(StatusCheck.Report.self)
            #expect(report.ok && report.failing.isEmpty)
            #expect(report.parts.map(\.name) == ["store", "migrations", "dispatchers", "probe", "transport:table-queue"])
            #expect(report.parts.first { $0.name == "migrations" }?.detail.contains("migrations applied") == true)
            let page = try await server.request("GET", "/status", headers: ["Accept": "text/html,application/xhtml+xml,*/*;q=0.8"])
            #expect(page.status == 200 && page.headers["content-type"]?.hasPrefix("text/html") == true)
            #expect(page.text.contains("All systems go"))
            #expect(try await server.request("GET", "/v1/queues").text == #"{"queues":[]}"#, "the probes left no job and no queue")
        }
    }

    @Test("without a live dispatcher /status is 503 and names the dispatcher part and the probe")
    func redWithoutDispatcher() async throws {
        try await withServer(worker: false) { server in
            let response = try await server.request("GET", "/status")
            #expect(response.status == 503)
            let report = try response.decode(StatusCheck.Report.self)
            #expect(!report.ok && report.failing == ["dispatchers", "probe"])
            #expect(report.parts.first { $0.name == "dispatchers" }?.detail.contains("no live dispatcher") == true)
            #expect(report.parts.first { $0.name == "store" }?.ok == true)
            let page = try await server.request("GET", "/status", headers: ["Accept": "text/html"])
            #expect(page.status == 503 && page.text.contains("Failing: dispatchers, probe"))
            #expect(report.parts.first { $0.name == "probe" }?.detail.contains("no probe job was enqueued") == true)
            #expect(try await server.request("GET", "/v1/queues").text == #"{"queues":[]}"#, "nothing enqueued, no queue made")
        }
    }

    @Test("/metrics exports counters and histograms per queue and job name, queue depth, live dispatchers and quota use")
    func metrics() async throws {
        try await withServer { server in
            _ = try await server.request("PUT", "/v1/quotas/reports", body: #"{"size":3}"#)
            let job = try await server.enqueue(#"{"name":"spool.echo","queue":"mail"}"#)
            let failing = try await server.enqueue(#"{"name":"spool.fail","queue":"mail","maxAttempts":2}"#)
            _ = try await server.request("GET", "/v1/jobs/\(job.id)?wait=60")
            _ = try await server.request("GET", "/v1/jobs/\(failing.id)?wait=60")
            let text = try await server.request("GET", "/metrics").text
            for line in [
                #"spool_jobs_enqueued_total{queue="mail",name="spool.echo"} 1"#,
                #"spool_jobs_completed_total{queue="mail",name="spool.echo"} 1"#,
                #"spool_jobs_failed_total{queue="mail",name="spool.fail"} 2"#,
                #"spool_jobs_retried_total{queue="mail",name="spool.fail"} 1"#,
                #"spool_queue_jobs{queue="mail",state="completed"} 1"#,
                #"spool_queue_jobs{queue="mail",state="discarded"} 1"#,
                "spool_dispatchers_live 1",
                #"spool_quota_size{quota="reports"} 3"#,
                #"spool_quota_running{quota="reports"} 0"#,
            ] {
                #expect(text.contains(line), "missing \(line)")
            }
            #expect(text.contains(#"spool_job_run_seconds_bucket{queue="mail",name="spool.echo""#))
            #expect(text.contains(#"spool_job_wait_seconds_count{queue="mail",name="spool.echo"} 1"#))
        }
    }
}
