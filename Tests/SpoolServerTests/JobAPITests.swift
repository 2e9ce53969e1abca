import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

@Suite("HTTP API: jobs")
struct JobAPITests {
    @Test("a job enqueued over HTTP runs; the long poll returns it completed with its result, in the CLI's JSON shape")
    func enqueueAndWait() async throws {
        try await withServer { server in
            let job = try await server.enqueue(#"{"name":"spool.echo","payload":{"hello":"world"},"queue":"default","tags":["t"],"maxAttempts":3}"#)
            #expect(job.state == .available && job.tags == ["t"] && job.maxAttempts == 3)
            let waited = try await server.request("GET", "/v1/jobs/\(job.id)?wait=60")
            #expect(waited.status == 200)
            let done = try waited.decode(Job.self)
            #expect(done.state == .completed)
            #expect(done.result?.value == .object(["hello": .string("world")]))
            #expect(done.attempt == 1 && done.startedAt != nil && done.finishedAt != nil)
        }
    }

    @Test("a unique key returns the waiting job with 200 instead of storing another")
    func uniqueKey() async throws {
        try await withServer(worker: false) { server in
            let first = try await server.enqueue(#"{"name":"x","uniqueKey":"k","delay":60}"#)
            let again = try await server.request("POST", "/v1/jobs", body: #"{"name":"x","uniqueKey":"k"}"#)
            #expect(again.status == 200)
            #expect(try again.decode(Job.self).id == first.id)
        }
    }

    @Test("a bulk enqueue stores every job in one call; cursor pages cover them all once, newest first")
    func bulkAndPages() async throws {
        try await withServer(worker: false) { server in
            let jobs = (0..<25).map { #"{"name":"bulk","queue":"b","payload":{"i":\#($0)}}"# }.joined(separator: ",")
            let response = try await server.request("POST", "/v1/jobs", body: #"{"jobs":[\#(jobs)]}"#)
            #expect(response.status == 201)
            struct Bulk: Decodable { struct Entry: Decodable { var id: JobID; var state: JobState; var inserted: Bool }; var jobs: [Entry] }
            let bulk = try response.decode(Bulk.self)
            #expect(bulk.jobs.count == 25 && bulk.jobs.allSatisfy { $0.inserted && $0.state == .available })
            struct Page: Decodable { var jobs: [Job]; var nextCursor: String? }
            var seen: [JobID] = []
            var cursor: String?
            repeat {
                let path = "/v1/jobs?queue=b&limit=10" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await server.request("GET", path).decode(Page.self)
                seen += page.jobs.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == bulk.jobs.map(\.id).sorted(by: >))
            let named = try await server.request("GET", "/v1/jobs?name=bulk&state=available&limit=1000").decode(Page.self)
            #expect(named.jobs.count == 25 && named.nextCursor == nil)
        }
    }

    @Test("cancel: a waiting job at once (200), a finished one is a conflict (409), an unknown one 404")
    func cancel() async throws {
        try await withServer(worker: false) { server in
            let job = try await server.enqueue(#"{"name":"later","delay":3600}"#)
            let cancelled = try await server.request("POST", "/v1/jobs/\(job.id)/cancel")
            #expect(cancelled.status == 200)
            #expect(try cancelled.decode(Job.self).state == .cancelled)
            struct Page: Decodable { var jobs: [Job] }
            let listed = try await server.request("GET", "/v1/jobs?state=cancelled").decode(Page.self)
            #expect(listed.jobs.map(\.id) == [job.id], "listed by its state")
            let again = try await server.request("POST", "/v1/jobs/\(job.id)/cancel")
            #expect(again.status == 409 && again.errorCode == "invalid_state")
            let unknown = try await server.request("POST", "/v1/jobs/\(JobID.make())/cancel")
            #expect(unknown.status == 404 && unknown.errorCode == "job_not_found")
            let retried = try await server.request("POST", "/v1/jobs/\(job.id)/retry")
            #expect(retried.status == 200)
            #expect(try retried.decode(Job.self).state == .available)
        }
    }

    @Test("a running job: retry is a conflict (409); cancel is accepted (202) and the job ends cancelled")
    func runningJob() async throws {
        try await withServer { server in
            let job = try await server.enqueue(#"{"name":"spool.sleep","payload":{"seconds":60}}"#)
            let deadline = Date().addingTimeInterval(60)
            while try await server.request("GET", "/v1/jobs/\(job.id)").decode(Job.self).state != .running, Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let retry = try await server.request("POST", "/v1/jobs/\(job.id)/retry")
            #expect(retry.status == 409 && retry.errorCode == "invalid_state")
            let cancel = try await server.request("POST", "/v1/jobs/\(job.id)/cancel")
            #expect(cancel.status == 202)
            #expect(try cancel.decode(Job.self).cancelRequested)
            let ended = try await server.request("GET", "/v1/jobs/\(job.id)?wait=60").decode(Job.self)
            #expect(ended.state == .cancelled)
        }
    }

    @Test("queues pause and resume; quotas are created, resized and removed; unknown quotas are refused")
    func queuesAndQuotas() async throws {
        try await withServer(worker: false) { server in
            _ = try await server.enqueue(#"{"name":"q","queue":"mail","delay":60}"#)
            let paused = try await server.request("POST", "/v1/queues/mail/pause")
            #expect(paused.status == 200)
            let queue = try paused.decode(QueueDocument.self)
            #expect(queue.paused && queue.counts["scheduled"] == 1 && queue.counts.count == JobState.allCases.count)
            struct Queues: Decodable { var queues: [QueueDocument] }
            #expect(try await server.request("GET", "/v1/queues").decode(Queues.self).queues.map(\.paused) == [true])
            #expect(try await server.request("POST", "/v1/queues/mail/resume").decode(QueueDocument.self).paused == false)

            let created = try await server.request("PUT", "/v1/quotas/reports", body: #"{"size":2}"#)
            #expect(created.status == 201)
            let resized = try await server.request("PUT", "/v1/quotas/reports", body: #"{"size":5}"#)
            #expect(try resized.status == 200 && resized.decode(QuotaDocument.self).size == 5)
            let badSize = try await server.request("PUT", "/v1/quotas/reports", body: #"{"size":0}"#)
            #expect(badSize.status == 400)
            let unknownQuota = try await server.request("POST", "/v1/jobs", body: #"{"name":"x","quotas":["nope"]}"#)
            #expect(unknownQuota.status == 422 && unknownQuota.errorCode == "unknown_quota")
            #expect(try await server.store.jobs(JobQuery(name: "x")).jobs.isEmpty)
            #expect(try await server.request("DELETE", "/v1/quotas/reports").status == 204)
            let gone = try await server.request("DELETE", "/v1/quotas/reports")
            #expect(gone.status == 404 && gone.errorCode == "unknown_quota")
        }
    }

    @Test("dispatchers and stats show the embedded dispatcher and the store's totals")
    func overview() async throws {
        try await withServer { server in
            let job = try await server.enqueue(#"{"name":"spool.noop"}"#)
            _ = try await server.request("GET", "/v1/jobs/\(job.id)?wait=60")
            struct Dispatchers: Decodable { var dispatchers: [DispatcherDocument] }
            let dispatchers = try await server.request("GET", "/v1/dispatchers").decode(Dispatchers.self).dispatchers
            #expect(dispatchers.count == 1 && dispatchers[0].state == .active && dispatchers[0].agents.map(\.name) == ["main"])
            struct Stats: Decodable { var jobs: [String: Int]; var queues: Int; var liveDispatchers: Int; var dispatchers: [String: Int] }
            let stats = try await server.request("GET", "/v1/stats").decode(Stats.self)
            #expect(stats.jobs["completed"] == 1 && stats.queues == 1 && stats.liveDispatchers == 1 && stats.dispatchers["active"] == 1)
        }
    }
}
