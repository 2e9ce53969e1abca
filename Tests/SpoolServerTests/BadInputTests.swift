import Foundation
import SpoolCore
import SpoolServer
import SpoolTestSupport
import Testing

@Suite("HTTP API: bad input")
struct BadInputTests {
    @Test("malformed JSON, wrong types, unknown and missing fields are 400 with codes naming the problem; nothing is stored")
    func malformedBodies() async throws {
        try await withServer(worker: false) { server in
            let cases: [(String, String, String)] = [
                (#"{"name":"x""#, "invalid_json", "not JSON"),
                ("", "invalid_json", "empty"),
                (#"{"name":5}"#, "invalid_field", "job.name must be a string"),
                (#"{"name":"x","priority":"high"}"#, "invalid_field", "job.priority must be a whole number"),
                (#"{"name":"x","priority":1.5}"#, "invalid_field", "whole number"),
                (#"{"name":"x","tags":[1]}"#, "invalid_field", "job.tags must be an array of strings"),
                (#"{"name":"x","colour":"red"}"#, "unknown_field", "unknown field 'colour'"),
                (#"{"payload":{}}"#, "invalid_field", "job.name is required"),
                (#"{"name":"x","runAt":"tomorrow"}"#, "invalid_field", "not an ISO 8601 time"),
                (#"{"name":"x","delay":-1}"#, "invalid_field", "delay"),
                (#"{"name":"x","maxAttempts":0}"#, "invalid_argument", "maxAttempts must be at least 1"),
                (#"{"jobs":[]}"#, "invalid_field", "at least one job"),
                (#"{"jobs":[{"name":"ok"},{"name":"x","oops":1}]}"#, "unknown_field", "jobs[1] has an unknown field 'oops'"),
                (#"{"jobs":{"name":"x"}}"#, "invalid_field", "jobs must be an array"),
                ("[1,2]", "invalid_field", "must be a JSON object"),
            ]
            for (body, code, words) in cases {
                let response = try await server.request("POST", "/v1/jobs", body: body)
                #expect(response.status == 400, "\(body) -> \(response.status) \(response.text)")
                #expect(response.errorCode == code, "\(body) -> \(response.text)")
                #expect(response.text.contains(words), "\(body) -> \(response.text)")
            }
            #expect(try await server.store.jobs(JobQuery()).jobs.isEmpty)
        }
    }

    @Test("a known path asked with another method is 405 with Allow; an unknown path is 404")
    func methodNotAllowed() async throws {
        try await withServer(worker: false) { server in
            for (method, path, allow) in [("DELETE", "/v1/stats", "GET, HEAD"), ("PATCH", "/v1/jobs", "POST, GET, HEAD"),
                                          ("GET", "/v1/quotas/q", "PUT, DELETE"), ("PUT", "/v1/jobs/\(JobID.make())/cancel", "POST")] {
                let response = try await server.request(method, path)
                #expect(response.status == 405 && response.errorCode == "method_not_allowed", "\(method) \(path): \(response.text)")
                #expect(response.headers["allow"] == allow, "\(method) \(path)")
            }
            let unknown = try await server.request("GET", "/v1/nothing")
            #expect(unknown.status == 404 && unknown.errorCode == "not_found")
        }
    }

    @Test("an oversized body is 413 and a payload over the store's limit is 413; the server keeps serving")
    func oversized() async throws {
        try await withServer(worker: false, configure: { $0.maxBodyBytes = 64 * 1024 }) { server in
            let big = #"{"name":"x","payload":""# + String(repeating: "x", count: 100 * 1024) + #""}"#
            let response = try await server.request("POST", "/v1/jobs", body: big)
            #expect(response.status == 413 && response.errorCode == "payload_too_large", "\(response.text)")
            let stats = try await server.request("GET", "/v1/stats")
            #expect(stats.status == 200)
        }
        try await withServer(worker: false) { server in
            let payload = #"{"name":"x","payload":""# + String(repeating: "x", count: (1 << 20) + 10) + #""}"#
            let response = try await server.request("POST", "/v1/jobs", body: payload)
            #expect(response.status == 413 && response.text.contains("the limit is 1048576"), "\(response.text)")
        }
    }

    @Test("invalid ids, cursors, states, limits and waits are 400; an unknown route is a JSON 404")
    func badParameters() async throws {
        try await withServer(worker: false) { server in
            let cases: [(String, String, Int, String)] = [
                ("GET", "/v1/jobs/not-a-uuid", 400, "invalid_id"),
                ("POST", "/v1/jobs/123/cancel", 400, "invalid_id"),
                ("GET", "/v1/jobs?cursor=bogus", 400, "invalid_cursor"),
                ("GET", "/v1/jobs?cursor=AAAAAAAAAAAAAAAAAAAAA%21", 400, "invalid_cursor"),
                ("GET", "/v1/jobs?state=finished", 400, "invalid_field"),
                ("GET", "/v1/jobs?limit=0", 400, "invalid_field"),
                ("GET", "/v1/jobs?limit=many", 400, "invalid_field"),
                ("GET", "/v1/jobs/\(JobID.make())?wait=-1", 400, "invalid_field"),
                ("GET", "/v1/jobs/\(JobID.make())?wait=100000", 400, "invalid_field"),
                ("GET", "/v1/jobs/\(JobID.make())", 404, "job_not_found"),
                ("GET", "/v1/events?job=nope", 400, "invalid_id"),
                ("GET", "/v1/events", 426, "upgrade_required"),
                ("GET", "/v2/nothing", 404, "not_found"),
                ("PUT", "/v1/quotas/q", 400, "invalid_json"),
            ]
            for (method, path, status, code) in cases {
                let response = try await server.request(method, path)
                #expect(response.status == status, "\(method) \(path) -> \(response.status) \(response.text)")
                #expect(response.errorCode == code, "\(method) \(path) -> \(response.text)")
                #expect(response.headers["content-type"]?.hasPrefix("application/json") == true)
            }
        }
    }

    @Test("a half-open client that never finishes its request does not stop others, and is closed when idle")
    func halfOpenClient() async throws {
        try await withServer(worker: false, configure: { $0.idleTimeout = .seconds(1) }) { server in
            let stalled = try LoopbackConnection(port: server.port, timeout: 60)
            stalled.send(Array("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"name\":".utf8))
            for _ in 0..<5 {
                #expect(try await server.request("GET", "/v1/stats").status == 200)
            }
            let closed = try await offPool { () -> Bool in
                while !stalled.receive().isEmpty {}
                return !stalled.timedOut
            }
            #expect(closed, "the server closes a connection idle past its timeout")
            #expect(try await server.request("GET", "/v1/queues").status == 200)
        }
    }
}
