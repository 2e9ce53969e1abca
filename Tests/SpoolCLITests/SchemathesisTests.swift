import Foundation
import SpoolTestSupport
import Testing

/// Schemathesis (property-based testing driven by `openapi.yaml`) against a real `spool serve`:
/// every check, the stateful phase, a fixed seed and a budget of two minutes, one worker (CPython
/// 3.11's parser is not thread-safe, and Hypothesis parses sources as it goes); the served document
/// must also validate with openapi-spec-validator. Needs `python3` with `schemathesis` and
/// `openapi-spec-validator` (`scripts/test` installs them); fails without them unless
/// `SPOOL_SKIP_SCHEMATHESIS=1`.
@Suite("The API against its OpenAPI document", .enabled(if: ProcessInfo.processInfo.environment["SPOOL_SKIP_SCHEMATHESIS"] != "1"))
struct SchemathesisTests {
    static let python = ProcessInfo.processInfo.environment["SPOOL_PYTHON"] ?? "python3"
    static let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("schemathesis/schemathesis.toml").path

    /// Runs `python` with `arguments`, its output in `log`; returns the exit status.
    static func python(_ arguments: [String], log: String) async throws -> Int32 {
        let interpreter = python.hasPrefix("/") ? python
            : (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
                .map { "\($0)/\(python)" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/python3"
        let child = try ChildProcess.spawn(interpreter, arguments, environment: ProcessInfo.processInfo.environment, outputPath: log)
        return await child.waitForExit()
    }

    @Test("the served document validates, and Schemathesis finds no 5xx, no schema violation and no undocumented answer")
    func schemathesis() async throws {
        let directory = try TemporaryDirectory()
        let probe = try await Self.python(["-c", "import schemathesis, openapi_spec_validator"], log: directory.path("probe.log"))
        guard probe == 0 else {
            throw ServerError("\(Self.python) cannot import schemathesis and openapi_spec_validator: run "
                              + "`pip install schemathesis openapi-spec-validator`, or set SPOOL_SKIP_SCHEMATHESIS=1")
        }
        let token = "schemathesis-token"
        let server = try await ServeProcess.start(["--store", "sqlite:" + directory.path("spool.db"), "--concurrency", "4",
                                                   "--max-wait", "2", "--probe-timeout", "2"],
                                                  environment: ["SPOOL_TOKEN": token], log: directory.path("serve.log"))
        defer { server.process.terminate() }
        let base = "http://127.0.0.1:\(server.port)"
        let document = try await HTTPTestClient.request(port: server.port, "GET", "/openapi.yaml", headers: ["Authorization": "Bearer \(token)"])
        try document.text.write(toFile: directory.path("openapi.yaml"), atomically: true, encoding: .utf8)
        let validation = try await Self.python(["-c", """
            import sys, yaml
            from openapi_spec_validator import validate
            validate(yaml.safe_load(open(sys.argv[1])))
            """, directory.path("openapi.yaml")], log: directory.path("validate.log"))
        #expect(validation == 0, "openapi-spec-validator: \((try? String(contentsOfFile: directory.path("validate.log"), encoding: .utf8)) ?? "")")

        let status = try await Self.python(["-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
                                            "--config-file", Self.config, "run", base + "/openapi.yaml",
                                            "-H", "Authorization: Bearer \(token)", "--checks", "all", "--seed", "7",
                                            "--max-examples", "30", "--workers", "1", "--max-time", "120", "--no-color"],
                                           log: directory.path("schemathesis.log"))
        let output = (try? String(contentsOfFile: directory.path("schemathesis.log"), encoding: .utf8)) ?? ""
        print("Schemathesis against spool serve:\n" + output.components(separatedBy: "\n").suffix(30).joined(separator: "\n"))
        #expect(status == 0, "Schemathesis found failures:\n\(output.suffix(6000))")
        #expect(server.process.isRunning, "spool serve is still running")
        let log = (try? String(contentsOfFile: directory.path("serve.log"), encoding: .utf8)) ?? ""
        #expect(!log.contains(" error "), "the server logged no error: \(log.components(separatedBy: "\n").filter { $0.contains(" error ") }.prefix(5))")
    }
}
