import Foundation
import Hummingbird
import SpoolCore

/// `/v1/jobs`: enqueue, list, show (with long poll), cancel, retry.
extension SpoolAPI {
    func addJobRoutes(to routes: Routes) {
        routes.post("/v1/jobs") { request, _ in try await enqueue(request) }
        routes.get("/v1/jobs") { request, _ in try await list(request) }
        routes.get("/v1/jobs/:id") { request, context in try await show(request, id: try SpoolAPI.jobID(context)) }
        routes.post("/v1/jobs/:id/cancel") { _, context in try await cancel(try SpoolAPI.jobID(context)) }
        routes.post("/v1/jobs/:id/retry") { _, context in try await retry(try SpoolAPI.jobID(context)) }
    }

    /// The answer to a bulk enqueue, `{"jobs": [...]}`: per job, in request order, its id, state,
    /// whether it was inserted (`false`: its unique key returned an existing job) and its
    /// `subscribeToken`.
    func bulkAnswer(_ results: [InsertResult]) -> String {
        let now = Date()
        var writer = JSONWriter(capacity: 32 + results.count * 80)
        writer.object { w in
            w.member("jobs")
            w.array { w in
                for result in results {
                    w.object { w in
                        w.member("id"); w.string(result.job.id.description)
                        w.member("inserted"); w.bool(result.inserted)
                        w.member("state"); w.string(result.job.state.rawValue)
                        w.member("subscribeToken"); w.string(configuration.subscribeTokens.token(for: result.job.id, now: now))
                    }
                }
            }
        }
        return writer.text
    }

    /// A page of jobs, `{"jobs": [...], "nextCursor": ...}`; `nextCursor` is `null` on the last page.
    static func pageAnswer(_ jobs: [Job], nextCursor: String?) -> String {
        var writer = JSONWriter(capacity: 64 + jobs.count * 600)
        writer.object { w in
            w.member("jobs")
            w.array { w in
                for job in jobs { job.write(to: &w) }
            }
            w.member("nextCursor"); w.optional(nextCursor) { $0.string($1) }
        }
        return writer.text
    }

    private func enqueue(_ request: Request) async throws -> Response {
        let body = try await JSONBody.read(request, limit: configuration.maxBodyBytes)
        let now = Date()
        let (jobs, bulk) = try JobRequest.parse(body, now: now)
        for (index, job) in jobs.enumerated() {
            do {
                try job.validate(store.limits)
            } catch let error as SpoolError {
                throw SpoolError(error.code, bulk ? "jobs[\(index)]: \(error.message)" : error.message)
            }
        }
        let results: [InsertResult]
        if let tracing = JobTracing.current {
            // A `traceparent` header (W3C trace context) makes the enqueue, and the jobs' runs, part of the caller's trace.
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            results = try await tracing.enqueue(jobs, source: "http", context: tracing.context(from: headers)) { try await insert($0, now: now) }
        } else {
            results = try await insert(jobs, now: now)
        }
        if bulk { return JSONBody.response(json: bulkAnswer(results), status: .created) }
        return JSONBody.response(json: enqueuedAnswer(results[0].job), status: results[0].inserted ? .created : .ok)
    }

    /// The answer to enqueueing one job: the job, with the `subscribeToken` a browser needs to
    /// hear of its end.
    func enqueuedAnswer(_ job: Job) -> String {
        var text = job.jsonText
        guard text.last == "}" else { return text }
        text.removeLast()
        return text + ",\"subscribeToken\":\"\(configuration.subscribeTokens.token(for: job.id))\"}"
    }

    /// Stores jobs, counts them and announces them.
    func insert(_ jobs: [NewJob], now: Date) async throws -> [InsertResult] {
        let results = try await events.announcing(.jobEnqueued, jobs: { $0.filter(\.inserted).map(\.job) }) {
            try await store.insert(jobs, now: now)
        }
        metrics.enqueued(results.filter(\.inserted).map(\.job))
        return results
    }

    private func list(_ request: Request) async throws -> Response {
        func text(_ key: String) throws -> String? { try SpoolAPI.parameter(request.uri, key) }
        var query = JobQuery(queue: try text("queue"), name: try text("name"))
        if let state = try text("state") {
            guard let parsed = JobState(rawValue: state) else {
                throw APIError.invalidField("state '\(state)' is unknown; use one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            query.state = parsed
        }
        if let limit = try text("limit") {
            guard let parsed = Int(limit), (1...1000).contains(parsed) else { throw APIError.invalidField("limit must be a whole number from 1 to 1000") }
            query.limit = parsed
        }
        if let cursor = try text("cursor") { query.after = try Cursor.decode(cursor) }
        let page = try await store.jobs(query)
        return JSONBody.response(json: SpoolAPI.pageAnswer(page.jobs, nextCursor: page.nextCursor.map(Cursor.encode)))
    }

    private func show(_ request: Request, id: JobID) async throws -> Response {
        if let text = try SpoolAPI.parameter(request.uri, "wait") {
            guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= configuration.maxWait.seconds else {
                throw APIError.invalidField("wait must be a number of seconds from 0 to \(Int(configuration.maxWait.seconds))")
            }
            if seconds > 0 {
                var client = SpoolClient(store: store)
                client.pollInterval = configuration.waitPollInterval
                do {
                    return JSONBody.response(json: try await client.wait(for: id, timeout: .seconds(clamping: seconds)).jsonText)
                } catch let error as SpoolError where error.code == .timedOut {
                    // Not finished yet: answer with the job as it is now.
                }
            }
        }
        guard let job = try await store.job(id) else { throw SpoolError(.jobNotFound, "no job with id \(id)") }
        return JSONBody.response(json: job.jsonText)
    }

    private func cancel(_ id: JobID) async throws -> Response {
        guard let current = try await store.job(id) else { throw SpoolError(.jobNotFound, "no job with id \(id)") }
        guard !current.state.isTerminal else { throw SpoolError.finished(current) }
        let job = try await store.cancel(id, now: Date())
        switch job.state {
        case .cancelled:
            events.publish(.jobCancelled, jobs: [job])
            return JSONBody.response(json: job.jsonText)
        case .running:
            return JSONBody.response(json: job.jsonText, status: .accepted)
        default:
            throw SpoolError.finished(job)
        }
    }

    private func retry(_ id: JobID) async throws -> Response {
        let job = try await events.announcing(.jobRetried, jobs: { [$0] }) { try await store.retry(id, now: Date()) }
        return JSONBody.response(json: job.jsonText)
    }
}

extension SpoolError {
    /// The error for cancelling a job that already finished.
    static func finished(_ job: Job) -> SpoolError {
        SpoolError(.invalidState, "job \(job.id) is already \(job.state); only a waiting or running job can be cancelled")
    }
}
