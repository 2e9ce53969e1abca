import AsyncHTTPClient
import Foundation
import SpoolCore
import SpoolHTTP
import SpoolTestSupport
import Testing

/// docs/http-jobs/verify.py, the Python verifier of the documentation, as a worker app: it
/// accepts what `spool.http` jobs send and refuses another key, so the documented algorithm is
/// the one Spool signs with.
@Suite("spool.http against the documented Python verifier", .timeLimit(.minutes(2)))
struct PythonVerifierTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/http-jobs/verify.py").path

    @Test("a signed POST is accepted with its target, task and body; a job signed with another key is refused with the reason and discarded")
    func interop() async throws {
        let port = try LoopbackSocket.freePort()
        let directory = try TemporaryDirectory()
        var environment = ProcessInfo.processInfo.environment
        environment["SPOOL_HTTP_SECRET"] = "main:0123456789abcdef0123"
        let python = try ChildProcess.spawn("/usr/bin/env", [MotoServer.python, Self.script, "\(port)"], environment: environment,
                                            outputPath: directory.path("verify.log"))
        defer { python.terminate() }
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"), timeout: .seconds(2)),
               response.status == .forbidden { break }
            guard ContinuousClock.now < deadline, python.isRunning else {
                throw ServerError("verify.py did not start: \((try? String(contentsOfFile: directory.path("verify.log"), encoding: .utf8)) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(100))
        }

        let harness = try await HTTPJobTests.Harness()
        let jobs = try await harness.run([
            HTTPJobPayload(method: "POST", url: "http://127.0.0.1:\(port)/work?id=7&name=a%20b", body: #"{"title":"Q3 ü"}"#, task: "reports"),
            HTTPJobPayload(url: "http://127.0.0.1:\(port)/empty"),
        ], maxAttempts: 1)
        for job in jobs { #expect(job.state == .completed, "\(job.errors)") }
        let answer = try #require(try HTTPJobTests.result(jobs[0])["body"])
        guard case .string(let text) = answer else { Issue.record("no text body"); return }
        let account = try JSONDecoder().decode([String: JSONValue].self, from: Data(text.utf8))
        #expect(account["accepted"] == .bool(true) && account["target"] == .string("/work?id=7&name=a%20b"))
        #expect(account["task"] == .string("reports") && account["body"] == .string(#"{"title":"Q3 ü"}"#))

        let other = try await HTTPJobTests.Harness(signingWith: try HTTPSigningKeys(parsing: "other:0123456789abcdef0123"))
        let refused = try #require(try await other.run([HTTPJobPayload(url: "http://127.0.0.1:\(port)/work")], maxAttempts: 1).first)
        #expect(refused.state == .discarded && refused.errors.first?.message.contains("403: unknown key id 'other'") == true, "\(refused.errors)")
    }
}
