import Foundation
import SpoolCore
import SpoolHTTP
import SpoolSQLite
import SpoolTestSupport
import Testing

/// The push of a job's end to a browser that is not an admin: subscription tokens handed out at
/// enqueue, the end-only view, ends recorded by other processes, `/push.js`.
@Suite("HTTP API: pushing the end of a job to its subscribers")
struct PushTests {
    static let secret = Array("push-tests-subscribe-secret".utf8)
    static let token = "push-tests-api-token"

    @Test("every enqueue answer carries the job's subscribeToken: one job, a bulk, an http job")
    func tokensInAnswers() async throws {
        try await withServer(worker: false, configure: { $0.subscribeTokens = SubscribeTokens(secret: Self.secret) }) { server in
            let tokens = SubscribeTokens(secret: Self.secret)
            let one = try await server.request("POST", "/v1/jobs", body: #"{"name":"x","delay":60}"#)
            let oneAnswer = try one.decode([String: JSONValue].self)
            guard case .string(let id)? = oneAnswer["id"], case .string(let token)? = oneAnswer["subscribeToken"], let jobID = JobID(id) else {
                Issue.record("no id or subscribeToken in \(one.text)")
                return
            }
            #expect(tokens.accepts(token, for: jobID))
            let bulk = try await server.request("POST", "/v1/jobs", body: #"{"jobs":[{"name":"x","delay":60},{"name":"y","delay":60}]}"#)
            struct Bulk: Decodable { struct Entry: Decodable { var id: JobID; var subscribeToken: String }; var jobs: [Entry] }
            let entries = try bulk.decode(Bulk.self).jobs
            #expect(entries.count == 2 && entries.allSatisfy { tokens.accepts($0.subscribeToken, for: $0.id) })
            #expect(!tokens.accepts(entries[0].subscribeToken, for: entries[1].id), "a token is good for its own job only")
            let http = try await server.request("POST", "/v1/http-jobs", body: #"{"request":{"url":"http://127.0.0.1:9/x"},"delay":60}"#)
            struct Answer: Decodable { var id: JobID; var subscribeToken: String }
            let answer = try http.decode(Answer.self)
            #expect(tokens.accepts(answer.subscribeToken, for: answer.id))
        }
    }

    @Test("a token subscription from another origin, without the API token, receives its own job's end only")
    func onlyItsOwnEnd() async throws {
        try await withServer(worker: false, token: Self.token) { server in
            let mine = try await server.request("POST", "/v1/jobs", body: #"{"name":"x","delay":3600}"#)
            struct Answer: Decodable { var id: JobID; var subscribeToken: String }
            let job = try mine.decode(Answer.self)
            let other = try await server.enqueue(#"{"name":"y","delay":3600}"#)
            let socket = try await WebSocketTestClient.connect(
                port: server.port, path: "/v1/events?job=\(job.id)&token=\(job.subscribeToken)",
                headers: ["Origin": "http://webapp.example", "Sec-Fetch-Site": "cross-site"])
            defer { socket.close() }
            _ = try await server.request("POST", "/v1/jobs/\(other.id)/cancel")
            _ = try await server.request("POST", "/v1/queues/default/pause")
            _ = try await server.request("POST", "/v1/jobs/\(job.id)/cancel")
            let end = try await socket.event { $0.type != "subscribed" }
            #expect(end.type == "job.ended" && end.id == job.id.description && end.state == "cancelled",
                    "the first message is its own job's end, not the other job's or the queue's")
        }
    }

    @Test("a job that already ended is pushed at once on subscribing, with its result and fragmentURL")
    func alreadyEnded() async throws {
        try await withServer { server in
            let response = try await server.request("POST", "/v1/jobs", body: #"{"name":"spool.echo","payload":{"fragmentURL":"/previews/7"}}"#)
            struct Answer: Decodable { var id: JobID; var subscribeToken: String }
            let job = try response.decode(Answer.self)
            let deadline = ContinuousClock.now + .seconds(10)
            while try await server.request("GET", "/v1/jobs/\(job.id)").decode(Job.self).state != .completed, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let socket = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events?job=\(job.id)&token=\(job.subscribeToken)")
            defer { socket.close() }
            let end = try await socket.event { $0.type != "subscribed" }
            #expect(end.type == "job.ended" && end.state == "completed" && end.fragmentURL == "/previews/7")
            #expect(end.result == .object(["fragmentURL": .string("/previews/7")]))
        }
    }

    @Test("a wrong, expired, or another job's token is refused with 403; a token without ?job= with 400")
    func refusedTokens() async throws {
        try await withServer(worker: false, token: Self.token, configure: { $0.subscribeTokens = SubscribeTokens(secret: Self.secret) }) { server in
            let tokens = SubscribeTokens(secret: Self.secret)
            let job = try await server.enqueue(#"{"name":"x","delay":3600}"#)
            let other = try await server.enqueue(#"{"name":"y","delay":3600}"#)
            let expired = tokens.token(for: job.id, now: Date().addingTimeInterval(-172_800))
            let forged = SubscribeTokens(secret: Array("another-secret-of-32-characters!".utf8)).token(for: job.id)
            for token in [expired, forged, tokens.token(for: other.id), "garbage", "9999999999.AAAA"] {
                let path = "/v1/events?job=\(job.id)&token=\(token)"
                let plain = try await HTTPTestClient.request(port: server.port, "GET", path)
                #expect(plain.status == 403 && plain.text.contains("invalid_subscribe_token"), "\(token): \(plain.status) \(plain.text)")
                await #expect(throws: WebSocketTestClient.WebSocketRefused.self) {
                    try await WebSocketTestClient.connect(port: server.port, path: path)
                }
            }
            let noJob = try await HTTPTestClient.request(port: server.port, "GET", "/v1/events?token=\(tokens.token(for: job.id))")
            #expect(noJob.status == 400, "\(noJob.text)")
            let good = try await HTTPTestClient.request(port: server.port, "GET", "/v1/events?job=\(job.id)&token=\(tokens.token(for: job.id))")
            #expect(good.status == 426, "a good token over plain HTTP is told to upgrade: \(good.text)")
        }
    }

    @Test("the end of a job another process ran reaches a token subscriber and an admin client")
    func endRecordedElsewhere() async throws {
        try await withServer(worker: false) { server in
            let response = try await server.request("POST", "/v1/jobs", body: #"{"name":"render","queue":"elsewhere"}"#)
            struct Answer: Decodable { var id: JobID; var subscribeToken: String }
            let job = try response.decode(Answer.self)
            let browser = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events?job=\(job.id)&token=\(job.subscribeToken)")
            defer { browser.close() }
            let admin = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events?queue=elsewhere")
            defer { admin.close() }
            #expect(try await admin.nextEvent().type == "subscribed")
            // Another process: its own store instance on the file, claiming and completing the job.
            let elsewhere = try SQLiteStore(path: server.store.path)
            let dispatcher = UUID()
            let claimed = try await elsewhere.claim(ClaimParams(dispatcher: dispatcher, queues: ["elsewhere"], limit: 1, now: Date(),
                                                                lease: .seconds(60)))
            #expect(claimed.map(\.id) == [job.id])
            let applied = try await elsewhere.finish([Finish(id: job.id, dispatcher: dispatcher,
                                                             outcome: .completed(result: JSONPayload(unchecked: #"{"pages":3}"#), followUps: []))],
                                                     now: Date())
            #expect(applied == [true])
            let end = try await browser.event { $0.type != "subscribed" }
            #expect(end.type == "job.ended" && end.id == job.id.description && end.state == "completed")
            #expect(end.result == .object(["pages": .number(3)]))
            let completed = try await admin.event { $0.type == "job.completed" }
            #expect(completed.job?.id == job.id && completed.job?.result?.value == .object(["pages": .number(3)]))
            await elsewhere.close()
        }
    }

    @Test("/push.js is served without the API token, as JavaScript")
    func pushScript() async throws {
        try await withServer(worker: false, token: Self.token) { server in
            let script = try await HTTPTestClient.request(port: server.port, "GET", "/push.js")
            #expect(script.status == 200 && script.headers["content-type"]?.hasPrefix("text/javascript") == true)
            #expect(script.text.contains("data-spool-token") && script.text.contains("job.ended"))
            let api = try await HTTPTestClient.request(port: server.port, "GET", "/v1/queues")
            #expect(api.status == 401, "the API itself still needs the token")
        }
    }
}
