import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

/// The push of a job's end on PostgreSQL, every part a separate process: `spool serve
/// --no-worker` and `spool worker` on one schema; the end reaches the server through NOTIFY on
/// the schema's ends channel.
@Suite("Push of job ends on PostgreSQL", .enabled(if: PostgresServer.shouldRun), .timeLimit(.minutes(2)))
struct PostgresPushTests {
    @Test("a token subscriber at spool serve hears the end of a job a separate spool worker ran")
    func endFromAnotherProcess() async throws {
        let postgres = try await PostgresServer.shared()
        let url = postgres.url(database: try postgres.createDatabase(), schema: "spool_push")
        let directory = try TemporaryDirectory()
        let server = try await ServeProcess.start(["--no-worker", "--store", url], log: directory.path("serve.log"))
        defer { server.process.terminate() }
        let worker = try SpoolProcess.start(["worker", "--store", url, "--uuid-file", directory.path("worker.uuid")],
                                            log: directory.path("worker.log"))
        defer { worker.terminate() }
        for round in 0..<3 {
            let answer = try await HTTPTestClient.request(port: server.port, "POST", "/v1/jobs",
                                                          body: #"{"name":"spool.sleep","payload":{"seconds":0.3}}"#)
            struct Enqueued: Decodable { var id: JobID; var subscribeToken: String }
            let job = try answer.decode(Enqueued.self)
            let socket = try await WebSocketTestClient.connect(port: server.port, path: "/v1/events?job=\(job.id)&token=\(job.subscribeToken)")
            defer { socket.close() }
            var ended: String?
            while ended == nil, let text = try await socket.nextText() {
                if text.contains("\"job.ended\"") { ended = text }
            }
            #expect(ended?.contains("\"state\":\"completed\"") == true && ended?.contains(job.id.description) == true,
                    "round \(round): \(ended ?? "no end")")
        }
    }
}
