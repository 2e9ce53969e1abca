import AsyncHTTPClient
import Foundation
import NIOCore
import Instrumentation
import NIOHTTP1
import SpoolCore
import SpoolWorker

/// The built-in job `spool.http`: runs a job as a signed HTTP request against a worker web
/// application (``HTTPJobPayload``; docs/http-jobs.md).
///
/// Every request carries `X-Spool-Task` (the task name, for routing), `X-Spool-Job` (the job's
/// id), `X-Spool-Attempt` and `X-Spool-Signature` (``HTTPSignature``). A 2xx answer completes the
/// job with `{"status", "headers", "body" | "bodyBase64", "truncated", "milliseconds"}`; 408, 429
/// (after `Retry-After`, when it says), 5xx and network failures are tried again with the job's
/// backoff; any other answer discards the job with the status and the start of the body in the
/// attempt's error. Redirects are followed on the same scheme, host and port only (up to five,
/// each signed anew); a redirect elsewhere discards the job.
public enum HTTPJobs {
    /// The job's name.
    public static let name = "spool.http"
    /// The answer header by which a worker app names an HTML fragment for the page that waits
    /// for the job: its value becomes the result's `fragmentURL`, which the push of the job's
    /// end carries to the browser.
    public static let fragmentHeader = "X-Spool-Fragment"

    /// What the job needs from its process.
    public struct Configuration: Sendable {
        /// The secrets requests are signed with; without them, `spool.http` jobs are discarded.
        public var keys: HTTPSigningKeys?
        /// The URL relative `url`s are resolved against.
        public var baseURL: URL?

        /// Creates a configuration.
        public init(keys: HTTPSigningKeys?, baseURL: URL? = nil) {
            self.keys = keys
            self.baseURL = baseURL
        }

        /// The configuration `SPOOL_HTTP_SECRET` and `SPOOL_HTTP_BASE_URL` give; a malformed one
        /// is refused naming the variable.
        public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Configuration {
            var baseURL: URL?
            if let text = environment["SPOOL_HTTP_BASE_URL"], !text.isEmpty {
                guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                    throw SpoolError(.invalidArgument, "SPOOL_HTTP_BASE_URL '\(Redaction.url(text))' is not an absolute http or https URL")
                }
                baseURL = url
            }
            return Configuration(keys: try HTTPSigningKeys.fromEnvironment(environment), baseURL: baseURL)
        }
    }

    /// The HTTP client every `spool.http` job of the process shares (one connection pool), with
    /// redirects left to the job. It keeps up to ``connectionsPerHost`` keep-alive connections to
    /// each worker app, so that as many jobs as the dispatcher runs at once can call one app at
    /// once (AsyncHTTPClient's own default of 8 held a worker of concurrency 50 to 8 calls).
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHost)
        // No span per request: even the no-op tracer's spans cost a few percent of a call.
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Keep-alive connections per worker app: `SPOOL_HTTP_CONNECTIONS` (1 to 1024), else 64.
    static let connectionsPerHost: Int = {
        guard let text = ProcessInfo.processInfo.environment["SPOOL_HTTP_CONNECTIONS"], let count = Int(text), (1...1024).contains(count) else {
            return 64
        }
        return count
    }()

    /// Registers `spool.http` into `registry`.
    public static func register(into registry: JobRegistry, configuration: Configuration) {
        registry.register(name: name) { job, _ in try await run(job, configuration: configuration) }
    }

    static func run(_ job: Job, configuration: Configuration) async throws -> JSONPayload? {
        guard let keys = configuration.keys else {
            throw JobControl.discard("SPOOL_HTTP_SECRET is not set in this worker: spool.http signs every request it sends")
        }
        let request: HTTPJobRequest
        do {
            request = try HTTPJobRequest(try HTTPJobPayload(json: job.payload.value), baseURL: configuration.baseURL, defaultTask: job.queue)
        } catch let error as HTTPJobPayloadError {
            throw JobControl.discard("spool.http payload: \(error.description)")
        } catch {
            throw JobControl.discard("spool.http payload is not valid: \(error)")
        }
        let started = ContinuousClock.now
        var url = request.url
        for _ in 0...5 {
            let answer = try await send(request, to: url, job: job, keys: keys)
            let status = Int(answer.status.code)
            switch status {
            case 200..<300:
                return try result(answer, request: request, milliseconds: (ContinuousClock.now - started).seconds * 1000)
            case 301, 302, 303, 307, 308:
                guard let location = answer.headers.first(name: "Location"),
                      let next = URL(string: location, relativeTo: url)?.absoluteURL else {
                    throw JobControl.discard("\(request.method) \(url.absoluteString) answered \(status) without a usable Location")
                }
                guard next.scheme == url.scheme, next.host == url.host, next.port == url.port else {
                    throw JobControl.discard("\(request.method) \(url.absoluteString) answered \(status), redirecting to another host (\(next.absoluteString)); not followed")
                }
                url = next
            case 408, 429, 500...599:
                let message = "\(request.method) \(url.absoluteString) answered \(status): \(excerpt(answer.body))"
                if status == 429, let after = answer.headers.first(name: "Retry-After").flatMap(retryAfter) {
                    throw JobControl.retry(message, after: after)
                }
                throw HTTPJobFailure(description: message)
            default:
                throw JobControl.discard("\(request.method) \(url.absoluteString) answered \(status): \(excerpt(answer.body))")
            }
        }
        throw JobControl.discard("\(request.method) \(request.url.absoluteString) redirected more than 5 times")
    }

    /// An answer: its status, headers and up to the result limit of its body.
    struct Answer {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: [UInt8]
        var truncated: Bool
    }

    private static func send(_ request: HTTPJobRequest, to url: URL, job: Job, keys: HTTPSigningKeys) async throws -> Answer {
        var outgoing = HTTPClientRequest(url: url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        outgoing.headers.add(name: "X-Spool-Task", value: request.task)
        outgoing.headers.add(name: "X-Spool-Job", value: job.id.description)
        outgoing.headers.add(name: "X-Spool-Attempt", value: String(job.attempt))
        // The worker app continues the run's trace (its span is the handler's context).
        if let tracing = JobTracing.current, let context = InstrumentationContext.current {
            for (name, value) in tracing.propagation(of: context) { outgoing.headers.replaceOrAdd(name: name, value: value) }
        }
        outgoing.headers.add(name: HTTPSignature.header,
                             value: HTTPSignature.sign(method: request.method, target: HTTPJobRequest.target(of: url), body: request.body, keys: keys))
        if !request.body.isEmpty { outgoing.body = .bytes(ByteBuffer(bytes: request.body)) }
        do {
            let response = try await client.execute(outgoing, timeout: TimeAmount(request.timeout))
            var body: [UInt8] = []
            var truncated = false
            for try await chunk in response.body {
                let room = request.maxResultBytes - body.count
                if chunk.readableBytes > room {
                    body.append(contentsOf: chunk.readableBytesView.prefix(room))
                    truncated = true
                    break
                }
                body.append(contentsOf: chunk.readableBytesView)
            }
            return Answer(status: response.status, headers: response.headers, body: body, truncated: truncated)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw HTTPJobFailure(description: "\(request.method) \(url.absoluteString) did not answer within \(request.timeout.seconds) s")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw HTTPJobFailure(description: "\(request.method) \(url.absoluteString) failed: \(error)")
        }
    }

    private static func result(_ answer: Answer, request: HTTPJobRequest, milliseconds: Double) throws -> JSONPayload {
        var writer = JSONWriter(capacity: 160 + answer.body.count)
        writer.object { w in
            w.member("status"); w.int(Int(answer.status.code))
            w.member("headers")
            w.object { w in
                var seen: Set<String> = []
                for name in request.resultHeaders.sorted() where seen.insert(name.lowercased()).inserted {
                    let values = answer.headers[name]
                    if !values.isEmpty { w.member(name); w.string(values.joined(separator: ", ")) }
                }
            }
            if let fragment = answer.headers[HTTPJobs.fragmentHeader].first, !fragment.isEmpty {
                w.member("fragmentURL"); w.string(String(fragment.prefix(2048)))
            }
            w.member("truncated"); w.bool(answer.truncated)
            w.member("milliseconds"); w.number((milliseconds * 1000).rounded() / 1000)
            if let text = String(validating: answer.body, as: UTF8.self) {
                w.member("body"); w.string(text)
            } else {
                w.member("bodyBase64"); w.string(Data(answer.body).base64EncodedString())
            }
        }
        return JSONPayload(unchecked: writer.text)
    }

    private static func excerpt(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(512), as: UTF8.self)
        return text.isEmpty ? "(empty body)" : text + (body.count > 512 ? "…" : "")
    }

    /// `Retry-After` as seconds or an HTTP date, at most a day.
    static func retryAfter(_ value: String) -> Duration? {
        if let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
            return .seconds(min(seconds, 86_400))
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(min(max(0, date.timeIntervalSinceNow), 86_400))
    }
}

/// A `spool.http` attempt that failed in a way that may pass on a later try: a network failure,
/// a timeout, or an answer of 408, 429 or 5xx.
struct HTTPJobFailure: Error, CustomStringConvertible {
    let description: String
}
