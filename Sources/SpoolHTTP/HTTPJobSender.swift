import Foundation
import HTTPTypes
import Hummingbird
import SpoolCore

/// Builds `spool.http` jobs in the web application that receives a user's request: the job
/// repeats a path on the worker application as that user (their `Cookie` and `Authorization`
/// forwarded), with the relative path resolved against the worker's base URL at once, and the
/// payload checked, so a job that could never run is refused when it is built, not when it runs.
///
/// ```swift
/// let sender = HTTPJobSender(workerBaseURL: URL(string: "http://workers.internal:8080/")!)
/// router.post("/reports/:id/render") { request, context in
///     var job = try sender.job(forwarding: request, HTTPJobPayload(method: "POST", url: "reports/7/render", task: "reports"))
///     job.runAt = Date().addingTimeInterval(5)   // a countdown
///     return try await spool.enqueue(job).id.description
/// }
/// ```
public struct HTTPJobSender: Sendable {
    /// What relative URLs are resolved against.
    public var workerBaseURL: URL?

    /// A sender for the worker application at `workerBaseURL`.
    public init(workerBaseURL: URL?) {
        self.workerBaseURL = workerBaseURL
    }

    /// The `spool.http` job for `payload`, with the other settings of `options` (its name is
    /// replaced); throws ``SpoolError/Code/invalidArgument`` naming what is wrong with the payload.
    public func job(_ payload: HTTPJobPayload, options: NewJob = NewJob(name: HTTPJobs.name)) throws -> NewJob {
        var payload = payload
        do {
            let request = try HTTPJobRequest(payload, baseURL: workerBaseURL, defaultTask: options.queue)
            payload.url = request.url.absoluteString
        } catch {
            throw SpoolError(.invalidArgument, "spool.http request: \(error.description)")
        }
        var job = options
        job.name = HTTPJobs.name
        job.payload = try JSONPayload(encoding: payload)
        return job
    }

    /// The `spool.http` job for `payload` that forwards the `Cookie` and `Authorization` headers
    /// of `request` (unless the payload gives its own).
    public func job(forwarding request: Request, _ payload: HTTPJobPayload, options: NewJob = NewJob(name: HTTPJobs.name)) throws -> NewJob {
        var payload = payload
        if payload.cookies == nil, payload.cookieHeader == nil {
            let cookies = request.headers[values: .cookie]
            if !cookies.isEmpty { payload.cookieHeader = cookies.joined(separator: "; ") }
        }
        if payload.authorization == nil { payload.authorization = request.headers[.authorization] }
        return try job(payload, options: options)
    }
}
