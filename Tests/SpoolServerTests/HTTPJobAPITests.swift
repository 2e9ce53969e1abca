import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

/// `POST /v1/http-jobs`: the spool.http sender helper over HTTP, for web applications in any language.
@Suite("HTTP API: spool.http jobs")
struct HTTPJobAPITests {
    @Test("a request with a relative url, the user's cookies and Authorization, a countdown and a queue becomes a spool.http job with an absolute url")
    func enqueue() async throws {
        try await withServer(worker: false, configure: { $0.httpBaseURL = URL(string: "http://workers.internal:8080/app/") }) { server in
            let before = Date()
            let response = try await server.request("POST", "/v1/http-jobs", body: #"""
                {"request":{"method":"POST","url":"reports/7/render?x=1","cookieHeader":"session=abc; theme=dark",
                 "authorization":"Bearer user-token","form":{"fields":{"title":"Q3"}},"task":"reports"},
                 "queue":"web","delay":5,"maxAttempts":4}
                """#)
            #expect(response.status == 201, "\(response.text)")
            let job = try response.decode(Job.self)
            #expect(job.name == "spool.http" && job.queue == "web" && job.maxAttempts == 4 && job.state == .scheduled)
            #expect(job.runAt.timeIntervalSince(before) >= 4.9)
            guard case .object(let payload) = job.payload.value else { Issue.record("payload is not an object"); return }
            #expect(payload["url"] == .string("http://workers.internal:8080/app/reports/7/render?x=1"))
            #expect(payload["cookieHeader"] == .string("session=abc; theme=dark") && payload["authorization"] == .string("Bearer user-token"))
            #expect(payload["task"] == .string("reports") && payload["method"] == .string("POST"))
        }
    }

    @Test("what can never run is refused before anything is stored, naming the field")
    func refused() async throws {
        try await withServer(worker: false) { server in
            let cases: [(String, Int, String)] = [
                (#"{"queue":"web"}"#, 400, "request is required"),
                (#"{"request":{"url":"http://w/","bogus":1}}"#, 400, "request.bogus"),
                (#"{"request":{"url":"http://w/"},"name":"x"}"#, 400, "'name' is set by /v1/http-jobs"),
                (#"{"request":{"url":"http://w/","timeout":"soon"}}"#, 400, "request.timeout"),
                (#"{"request":"http://w/"}"#, 400, "request must be an object"),
                (#"{"request":{"url":"reports/7"}}"#, 422, "relative and this worker has no base URL"),
                (#"{"request":{"url":"http://w/","method":"BREW"}}"#, 422, "method 'BREW'"),
                (#"{"request":{"url":"http://w/","body":"a","form":{}}}"#, 422, "one of body, bodyBase64 and form"),
                (#"{"request":{"url":"http://w/","headers":{"Bad Name":"x"}}}"#, 422, "header 'Bad Name'"),
            ]
            for (body, status, named) in cases {
                let response = try await server.request("POST", "/v1/http-jobs", body: body)
                #expect(response.status == status && response.text.contains(named), "\(body): \(response.status) \(response.text)")
            }
            let stored = try await server.request("GET", "/v1/jobs")
            #expect(stored.text.contains(#""jobs":[]"#), "nothing stored: \(stored.text)")
        }
    }
}
