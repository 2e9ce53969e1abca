import Foundation
import Hummingbird
import SpoolCore
import SpoolHTTP

/// `POST /v1/http-jobs`: the sender helper over HTTP, for web applications in any language.
extension SpoolAPI {
    func addHTTPJobRoutes(to routes: Routes) {
        routes.post("/v1/http-jobs") { request, _ in try await enqueueHTTPJob(request) }
    }

    /// The body is `{"request": {…the spool.http payload…}, …the job options of POST /v1/jobs but
    /// name and payload}`. A relative `request.url` is resolved against the configured worker
    /// base URL; the request is checked before anything is stored: a malformed body is 400, a
    /// well-formed request that could never be made (a relative url without a base, a header
    /// name that is not a token, a body and a form) is 422 `invalid_request`.
    private func enqueueHTTPJob(_ request: Request) async throws -> Response {
        let body = try await JSONBody.read(request, limit: configuration.maxBodyBytes)
        guard case .object(var members) = body else { throw APIError.invalidField("the body must be an object with a request") }
        guard let described = members.removeValue(forKey: "request") else {
            throw APIError.invalidField("request is required: the HTTP request the job makes")
        }
        for reserved in ["name", "payload"] where members[reserved] != nil {
            throw APIError(.badRequest, "unknown_field", "'\(reserved)' is set by /v1/http-jobs itself")
        }
        members["name"] = .string(HTTPJobs.name)
        let now = Date()
        let options = try JobRequest.job(.object(members), place: "job", now: now)
        let payload: HTTPJobPayload
        do {
            guard case .object(let fields) = described else { throw APIError.invalidField("request must be an object") }
            if let unknown = fields.keys.sorted().first(where: { !Self.requestFields.contains($0) }) {
                throw APIError(.badRequest, "unknown_field", "request.\(unknown.prefix(64)) is not a field of a spool.http request")
            }
            payload = try JSONDecoder().decode(HTTPJobPayload.self, from: Data(described.compactText.utf8))
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.invalidField("request is not a spool.http request: \((error as? DecodingError)?.summary(root: "request") ?? "\(error)")")
        }
        let job: NewJob
        do {
            job = try HTTPJobSender(workerBaseURL: configuration.httpBaseURL).job(payload, options: options)
            try job.validate(store.limits)
        } catch let error as SpoolError {
            // Well-formed, but a request that could never be made.
            throw APIError(.unprocessableContent, "invalid_request", error.message)
        }
        let result = try await insert([job], now: now)[0]
        return JSONBody.response(json: enqueuedAnswer(result.job), status: result.inserted ? .created : .ok)
    }

    static let requestFields: Set<String> = [
        "method", "url", "headers", "body", "bodyBase64", "form", "cookies", "cookieHeader", "authorization", "task", "timeout",
        "maxResultBytes", "resultHeaders",
    ]
}
