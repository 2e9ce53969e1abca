import AsyncHTTPClient
import Foundation
import InMemoryTracing
import NIOCore
import SpoolCore
@testable import SpoolHTTP
import SpoolSQLite
import SpoolTestSupport
import SpoolWorker
import Testing
import Tracing

/// `spool.http` jobs run by a dispatcher on an SQLite store against ``WorkerApp`` on a loopback port.
@Suite("spool.http jobs", .timeLimit(.minutes(2)))
struct HTTPJobTests {
    static let keys = try! HTTPSigningKeys(parsing: "main:0123456789abcdef0123")

    /// A store, a dispatcher running `spool.http` (signing with `keys`), and the worker app.
    struct Harness {
        let directory: TemporaryDirectory
        let store: SQLiteStore
        let app: WorkerApp
        let registry = JobRegistry()

        init(signingWith keys: HTTPSigningKeys = HTTPJobTests.keys, appKeys: HTTPSigningKeys = HTTPJobTests.keys, baseURL: URL? = nil) async throws {
            directory = try TemporaryDirectory()
            store = try SQLiteStore(path: directory.path("spool.db"))
            app = try await WorkerApp.start(keys: appKeys)
            HTTPJobs.register(into: registry, configuration: HTTPJobs.Configuration(keys: keys, baseURL: baseURL))
        }

        /// Enqueues each payload as a `spool.http` job, runs a dispatcher until all are finished, and returns them.
        func run(_ payloads: [HTTPJobPayload], maxAttempts: Int = 3, timeout: Duration = .seconds(60)) async throws -> [Job] {
            var configuration = DispatcherConfiguration(id: UUID())
            configuration.backoff = Backoff(base: .milliseconds(20), maximum: .milliseconds(50), jitter: 0)
            configuration.pingInterval = .milliseconds(100)
            configuration.pollInterval = .milliseconds(100)
            configuration.gracePeriod = .seconds(1)
            let dispatcher = Dispatcher(store: store, registry: registry, configuration: configuration)
            let running = Task { try await dispatcher.run() }
            defer { dispatcher.stop() }
            let client = SpoolClient(store: store)
            var jobs: [Job] = []
            for payload in payloads {
                var job = NewJob(name: HTTPJobs.name, payload: try JSONPayload(encoding: payload))
                job.maxAttempts = maxAttempts
                jobs.append(try await client.enqueue(job))
            }
            var finished: [Job] = []
            for job in jobs { finished.append(try await client.wait(for: job.id, timeout: timeout)) }
            dispatcher.stop()
            try await running.value
            return finished
        }
    }

    static func result(_ job: Job) throws -> [String: JSONValue] {
        guard case .object(let object)? = try job.result?.decode(JSONValue.self) else { throw SpoolError(.invalidState, "job \(job.id) has no object result") }
        return object
    }

    @Test("a signed POST reaches the worker app with its headers, cookies and Authorization unchanged, and 2xx completes the job with the answer")
    func success() async throws {
        let harness = try await Harness()
        let payload = HTTPJobPayload(method: "POST", url: harness.app.url + "/echo?report=7", headers: ["Content-Type": "application/json", "X-Trace": "t-1"],
                                     body: #"{"title":"Q3"}"#, cookies: ["session": "abc123", "theme": "dark"], authorization: "Bearer user-token",
                                     task: "reports.render", resultHeaders: ["Content-Type", "Content-Length"])
        let job = try #require(try await harness.run([payload]).first)
        #expect(job.state == .completed, "\(job.errors)")
        let result = try Self.result(job)
        #expect(result["status"] == .number(200) && result["body"] == .string(#"{"title":"Q3"}"#) && result["truncated"] == .bool(false))
        #expect(result["headers"] == .object(["Content-Type": .string("application/json"), "Content-Length": .string("14")]))
        let seen = try #require(harness.app.requests.first)
        #expect(seen.method == "POST" && seen.target == "/echo?report=7" && seen.body == Array(#"{"title":"Q3"}"#.utf8))
        #expect(seen.headers["X-Spool-Task"] == "reports.render" && seen.headers["X-Spool-Job"] == job.id.description
            && seen.headers["X-Spool-Attempt"] == "1")
        #expect(seen.headers["Cookie"] == "session=abc123; theme=dark" && seen.headers["Authorization"] == "Bearer user-token"
            && seen.headers["X-Trace"] == "t-1")
        #expect(seen.headers["X-Spool-Signature"]?.hasPrefix("v=1,k=main,t=") == true)
    }

    @Test("with a tracer, the request carries the run's trace context, so the worker app continues the job's trace")
    func tracePropagates() async throws {
        let harness = try await Harness()
        let tracer = InMemoryTracer()
        let payload = HTTPJobPayload(method: "POST", url: harness.app.url + "/echo", body: "{}", task: "traced")
        let job = try #require(try await withTracer(tracer) { try await harness.run([payload]).first })
        #expect(job.state == .completed, "\(job.errors)")
        let run = try #require(tracer.finishedSpans.first { $0.operationName == "spool.run \(HTTPJobs.name)" })
        let seen = try #require(harness.app.requests.first)
        #expect(seen.headers[InMemoryTracer.traceIDKey] == run.traceID && seen.headers[InMemoryTracer.spanIDKey] == run.spanID,
                "the request's trace headers name the run's span: \(seen.headers)")
    }

    @Test("503 is tried again and then succeeds; 404 discards with the status and body; 429 waits for its Retry-After")
    func statuses() async throws {
        let harness = try await Harness()
        let started = Date()
        let jobs = try await harness.run([HTTPJobPayload(url: harness.app.url + "/flaky"), HTTPJobPayload(url: harness.app.url + "/missing"),
                                          HTTPJobPayload(url: harness.app.url + "/busy")])
        #expect(jobs[0].state == .completed && jobs[0].attempt == 2 && jobs[0].errors.first?.message.contains("503: down for a moment") == true,
                "\(jobs[0].errors)")
        #expect(jobs[1].state == .discarded && jobs[1].attempt == 1, "not tried again")
        #expect(jobs[1].errors.first?.message.contains("answered 404: no such report") == true, "\(jobs[1].errors)")
        #expect(jobs[2].state == .completed && jobs[2].attempt == 2, "\(jobs[2].errors)")
        let busy = harness.app.requests.filter { $0.target == "/busy" }
        #expect(busy.count == 2)
        let firstTry = try #require(jobs[2].errors.first)
        #expect(firstTry.message.contains("429") && (jobs[2].finishedAt ?? started).timeIntervalSince(firstTry.at) >= 1.9,
                "the second try came after Retry-After: 2")
    }

    @Test("a worker app that hangs is cut off at the payload's timeout and tried again")
    func hang() async throws {
        let harness = try await Harness()
        // Only the first request hangs; a timeout of 3 s leaves the later ones room on a loaded machine.
        let job = try #require(try await harness.run([HTTPJobPayload(url: harness.app.url + "/hang", timeout: 3)], maxAttempts: 5).first)
        #expect(job.state == .completed && job.attempt >= 2, "\(job.errors)")
        #expect(job.errors.first?.message.contains("did not answer within 3.0 s") == true, "\(job.errors)")
    }

    @Test("an app with another secret refuses the request with 403 and its reason; the job is discarded with it")
    func forged() async throws {
        let harness = try await Harness(signingWith: try HTTPSigningKeys(parsing: "main:not-the-app-secret!"))
        let job = try #require(try await harness.run([HTTPJobPayload(url: harness.app.url + "/hello")]).first)
        #expect(job.state == .discarded && job.errors.first?.message.contains("403: wrong signature") == true, "\(job.errors)")
        #expect(harness.app.requests.isEmpty, "nothing passed the middleware")
    }

    @Test("a request replayed, unsigned or signed long ago is refused by the middleware with its reason")
    func middlewareRefusals() async throws {
        let app = try await WorkerApp.start(keys: Self.keys)
        func send(_ signature: String?) async throws -> (Int, String) {
            var request = HTTPClientRequest(url: app.url + "/hello")
            if let signature { request.headers.add(name: HTTPSignature.header, value: signature) }
            // Generous: the app shares this process's two threads with the whole suite.
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 4096)))
        }
        let signed = HTTPSignature.sign(method: "GET", target: "/hello", body: [UInt8](), keys: Self.keys)
        #expect(try await send(signed) == (200, "hello"))
        #expect(try await send(signed) == (403, "replayed: this nonce was already used\n"))
        #expect(try await send(nil) == (403, "missing X-Spool-Signature\n"))
        let old = HTTPSignature.sign(method: "GET", target: "/hello", body: [UInt8](), keys: Self.keys, at: Date().addingTimeInterval(-600))
        #expect(try await send(old).1.hasPrefix("expired: signed 6"))
        #expect(app.requests.count == 1)
    }

    @Test("a form with a file goes as multipart, fields alone urlencoded; redirects are followed on the same host only")
    func formsAndRedirects() async throws {
        let harness = try await Harness()
        let file = HTTPJobPayload.File(field: "data", filename: "q3.csv", contentType: "text/csv", base64: Data("a,b\n1,2\n".utf8).base64EncodedString())
        let jobs = try await harness.run([
            HTTPJobPayload(url: harness.app.url + "/echo", form: .init(fields: ["title": "Q3 & Q4"], files: [file])),
            HTTPJobPayload(url: harness.app.url + "/echo", form: .init(fields: ["title": "Q3 & Q4", "n": "1"])),
            HTTPJobPayload(url: harness.app.url + "/redirect-here"),
            HTTPJobPayload(url: harness.app.url + "/redirect-away"),
        ], maxAttempts: 1)
        let multipart = try #require(harness.app.requests.first { $0.headers["Content-Type"]?.hasPrefix("multipart/form-data; boundary=") == true })
        let text = String(decoding: multipart.body, as: UTF8.self)
        #expect(text.contains("Content-Disposition: form-data; name=\"data\"; filename=\"q3.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\n1,2\n\r\n"))
        #expect(text.contains("name=\"title\"\r\n\r\nQ3 & Q4\r\n"))
        #expect(try Self.result(jobs[1])["body"] == .string("n=1&title=Q3+%26+Q4"))
        #expect(try jobs[2].state == .completed && Self.result(jobs[2])["body"] == .string("hello"))
        #expect(harness.app.requests.contains { $0.target == "/hello" })
        #expect(jobs[3].state == .discarded && jobs[3].errors.first?.message.contains("another host") == true, "\(jobs[3].errors)")
    }

    @Test("bad payloads and failures are clear attempt errors: no url, relative url without base, unknown method, truncated answer, DNS and TLS failures")
    func badInput() async throws {
        let harness = try await Harness(baseURL: nil)
        let plain = try await WorkerApp.start(keys: Self.keys)
        let jobs = try await harness.run([
            HTTPJobPayload(), HTTPJobPayload(url: "/relative"), HTTPJobPayload(method: "BREW", url: harness.app.url + "/hello"),
            HTTPJobPayload(url: harness.app.url + "/big", maxResultBytes: 1000),
            HTTPJobPayload(url: "http://no-such-host.invalid/", timeout: 5),
            HTTPJobPayload(url: "https://127.0.0.1:\(plain.port)/hello", timeout: 5),
        ], maxAttempts: 1)
        let messages = jobs.map { $0.errors.first?.message ?? "" }
        #expect(jobs[0].state == .discarded && messages[0].contains("has no url"), "\(messages[0])")
        #expect(jobs[1].state == .discarded && messages[1].contains("relative and this worker has no base URL"), "\(messages[1])")
        #expect(jobs[2].state == .discarded && messages[2].contains("method 'BREW'"), "\(messages[2])")
        let big = try Self.result(jobs[3])
        #expect(big["truncated"] == .bool(true) && big["body"] == .string(String(repeating: "x", count: 1000)))
        // A resolver that answers fails it at once; one that does not answer runs into the timeout.
        #expect(jobs[4].state == .discarded && messages[4].contains("http://no-such-host.invalid/")
            && (messages[4].contains("failed") || messages[4].contains("did not answer")), "\(messages[4])")
        #expect(jobs[5].state == .discarded && messages[5].contains("https://127.0.0.1:\(plain.port)/hello failed"), "\(messages[5])")
        #expect(throws: HTTPJobPayloadError.self) {
            _ = try HTTPJobRequest(HTTPJobPayload(url: "http://x/", bodyBase64: Data(count: HTTPJobRequest.maximumBodyBytes + 1).base64EncodedString()),
                                   baseURL: nil, defaultTask: "default")
        }
        let relative = try HTTPJobRequest(HTTPJobPayload(url: "reports/7?x=1"), baseURL: URL(string: "http://worker:8080/app/"), defaultTask: "q")
        #expect(relative.url.absoluteString == "http://worker:8080/app/reports/7?x=1" && relative.task == "q" && relative.method == "GET")
    }

    @Test("without SPOOL_HTTP_SECRET a worker discards spool.http jobs, saying why")
    func noSecret() async throws {
        let harness = try await Harness()
        let job = try await SpoolClient(store: harness.store).enqueue(NewJob(name: HTTPJobs.name, payload: try JSONPayload(encoding: HTTPJobPayload(url: harness.app.url))))
        let error = await #expect(throws: JobControl.self) { _ = try await HTTPJobs.run(job, configuration: HTTPJobs.Configuration(keys: nil)) }
        guard case .discard(let message)? = error else { Issue.record("not discarded: \(String(describing: error))"); return }
        #expect(message.contains("SPOOL_HTTP_SECRET is not set"))
    }
}
