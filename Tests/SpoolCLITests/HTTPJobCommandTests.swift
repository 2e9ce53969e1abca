import Foundation
import SpoolTestSupport
import Testing

/// `spool.http` run the README's way: a default `spool worker` with `SPOOL_HTTP_SECRET`, a job
/// from `spool call`, against the documentation's Python verifier as the worker application.
@Suite("spool.http from the command line", .timeLimit(.minutes(2)))
struct HTTPJobCommandTests {
    static let verifier = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/http-jobs/verify.py").path

    @Test("a default worker signs the request; the app accepts it and spool call prints its answer")
    func call() async throws {
        let directory = try TemporaryDirectory()
        let secret = ["SPOOL_HTTP_SECRET": "main:0123456789abcdef0123", "SPOOL_STORE": "sqlite:" + directory.path("spool.db")]
        let port = try LoopbackSocket.freePort()
        let app = try ChildProcess.spawn("/usr/bin/env", [MotoServer.python, Self.verifier, "\(port)"],
                                         environment: ProcessInfo.processInfo.environment.merging(secret) { $1 }, outputPath: directory.path("app.log"))
        defer { app.terminate() }
        let worker = try SpoolProcess.start(["worker"], environment: secret, log: directory.path("worker.log"), in: directory.path(""))
        defer { worker.terminate() }
        let deadline = ContinuousClock.now + .seconds(15)
        while (try? await HTTPTestClient.request(port: port, "GET", "/"))?.status != 403 {
            guard ContinuousClock.now < deadline else { throw ServerError("verify.py did not start") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let result = try await SpoolProcess.run(["call", "spool.http", "--payload", #"{"method":"POST","url":"http://127.0.0.1:\#(port)/reports/7","body":"hi"}"#,
                                                 "--wait", "30"], environment: secret)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(#""status":200"#) && result.stdout.contains(#"\"accepted\": true"#)
            && result.stdout.contains(#"\"target\": \"/reports/7\""#), "\(result.stdout)")
    }
}
