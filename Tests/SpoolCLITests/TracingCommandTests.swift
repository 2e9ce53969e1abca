import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

/// Trace export from `spool serve` and `spool worker` (swift-otel over OTLP/HTTP) into a small
/// receiver (`otlp/receiver.py`), as a user turns it on: the usual `OTEL_*` variables.
@Suite("spool serve and spool worker: traces", .timeLimit(.minutes(3)))
struct TracingCommandTests {
    static let receiver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("otlp/receiver.py").path

    /// The receiver's spans so far, one dictionary per span.
    static func spans(_ path: String) -> [[String: JSONValue]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard case .object(let members)? = try? JSONValue.parse(String(line)) else { return nil }
            return members
        }
    }

    /// `bytes` random bytes in lowercase hex (a trace or span id).
    static func randomHex(bytes: Int) -> String { (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() }

    /// Starts `otlp/receiver.py` writing to `output`; the process and its port.
    static func startReceiver(_ output: String, log: String) async throws -> (ChildProcess, Int) {
        let python = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/python3"
        let receiver = try ChildProcess.spawn(python, ["-u", Self.receiver, output], environment: ProcessInfo.processInfo.environment,
                                              outputPath: log)
        for _ in 0..<200 {
            if let port = Int(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) {
                return (receiver, port)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        receiver.terminate()
        throw ServerError("the OTLP receiver printed no port: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    @Test("the README's way: spool serve with its own worker and only OTEL_EXPORTER_OTLP_ENDPOINT set exports protobuf spans of the caller's trace")
    func defaultExport() async throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("spans.jsonl")
        let (receiver, port) = try await Self.startReceiver(output, log: directory.path("receiver.log"))
        defer { receiver.terminate() }
        let server = try await ServeProcess.start(["--store", "sqlite:" + directory.path("spool.db")],
                                                  environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(port)"],
                                                  log: directory.path("serve.log"))
        let traceID = Self.randomHex(bytes: 16)
        let posted = try await HTTPTestClient.request(port: server.port, "POST", "/v1/jobs",
                                                      headers: ["traceparent": "00-\(traceID)-00f067aa0ba902b7-01"], body: #"{"name":"spool.noop"}"#)
        let job = try posted.decode(Job.self)
        #expect(try await HTTPTestClient.request(port: server.port, "GET", "/v1/jobs/\(job.id)?wait=60").decode(Job.self).state == .completed)
        #expect(await server.stop() == 0, "SIGTERM sends what is batched")
        let bodies = Self.spans(output).compactMap { line -> String? in
            if case .string(let hex)? = line["protobuf"] { return hex }
            return nil
        }.joined()
        let hex = { (text: String) in text.utf8.map { String(format: "%02x", $0) }.joined() }
        #expect(bodies.contains(traceID), "protobuf spans of the caller's trace arrived: \(bodies.count / 2) bytes")
        #expect(bodies.contains(hex("spool.enqueue")) && bodies.contains(hex("spool.run spool.noop")), "the enqueue's and the run's")
    }

    @Test("a job enqueued over HTTP with a traceparent and run by a separate spool worker: both export their spans, which form the caller's trace")
    func oneTraceAcrossProcesses() async throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("spans.jsonl")
        let (receiver, receiverPort) = try await Self.startReceiver(output, log: directory.path("receiver.log"))
        defer { receiver.terminate() }
        // The collector's credentials (a header the exporter sends) never show in the logs.
        let secret = "collector-secret-\(UInt32.random(in: 0...UInt32.max))"
        let environment = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiverPort)", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                           "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer \(secret)",
                           "SPOOL_LOG_LEVEL": "debug", "OTEL_LOG_LEVEL": "debug"]
        let store = "sqlite:" + directory.path("spool.db")
        let server = try await ServeProcess.start(["--store", store, "--no-worker"], environment: environment, log: directory.path("serve.log"))
        let worker = try SpoolProcess.start(["worker", "--store", store], environment: environment, log: directory.path("worker.log"))
        defer { worker.terminate() }

        let traceID = Self.randomHex(bytes: 16)
        let callerSpan = Self.randomHex(bytes: 8)
        let posted = try await HTTPTestClient.request(port: server.port, "POST", "/v1/jobs",
                                                      headers: ["traceparent": "00-\(traceID)-\(callerSpan)-01"], body: #"{"name":"spool.noop"}"#)
        #expect(posted.status == 201, "\(posted.text)")
        let job = try posted.decode(Job.self)
        #expect(job.traceContext["traceparent"]?.contains(traceID) == true, "the job carries the caller's trace: \(job.traceContext)")
        let done = try await HTTPTestClient.request(port: server.port, "GET", "/v1/jobs/\(job.id)?wait=60").decode(Job.self)
        #expect(done.state == .completed)

        var spans: [[String: JSONValue]] = []
        let deadline = ContinuousClock.now + .seconds(60)
        func named(_ name: String) -> [String: JSONValue]? { spans.first { $0["name"] == .string(name) && $0["traceId"] == .string(traceID) } }
        while ContinuousClock.now < deadline, named("spool.enqueue") == nil || named("spool.run spool.noop") == nil {
            try await Task.sleep(for: .milliseconds(100))
            spans = Self.spans(output)
        }
        let logs = "serve: \((try? String(contentsOfFile: directory.path("serve.log"), encoding: .utf8)) ?? "")\nworker: \((try? String(contentsOfFile: directory.path("worker.log"), encoding: .utf8)) ?? "")"
        let enqueue = try #require(named("spool.enqueue"), "the server's enqueue span arrived: \(spans)\n\(logs)")
        let run = try #require(named("spool.run spool.noop"), "the worker's run span arrived: \(spans)\n\(logs)")
        #expect(enqueue["service"] == .string("spool-serve") && run["service"] == .string("spool-worker"), "each from its own process")
        #expect(enqueue["parentSpanId"] == .string(callerSpan), "the enqueue is the caller's child")
        #expect(run["parentSpanId"] == enqueue["spanId"], "the run is the enqueue's child, in the caller's trace")
        #expect(run["links"] == .array([.object(["traceId": .string(traceID), "spanId": enqueue["spanId"] ?? .null])]), "and follows from it")
        guard case .object(let attributes)? = run["attributes"] else { Issue.record("the run has attributes"); return }
        #expect(attributes["spool.job.id"] == .string(job.id.description) && attributes["spool.job.outcome"] == .string("completed"))
        #expect(await server.stop() == 0)
        worker.terminate()
        #expect(await worker.waitForExit() == 0)
        let finalLogs = ["serve.log", "worker.log"].map { (try? String(contentsOfFile: directory.path($0), encoding: .utf8)) ?? "" }.joined()
        #expect(!finalLogs.contains(secret), "the collector's credentials stay out of the logs")
    }

    @Test("spool enqueue in a traced script: TRACEPARENT and TRACESTATE become the job's trace context; a malformed one is ignored with a warning")
    func enqueueFromATracedScript() async throws {
        let directory = try TemporaryDirectory()
        let store = "sqlite:" + directory.path("spool.db")
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let traced = try await SpoolProcess.run(["enqueue", "spool.noop", "--json", "--store", store],
                                                environment: ["TRACEPARENT": parent, "TRACESTATE": "vendor=1"])
        #expect(traced.status == 0, "\(traced.stderr)")
        let job = try JSONDecoder().decode(Job.self, from: Data(traced.stdout.utf8))
        #expect(job.traceContext == TraceContext(["traceparent": parent, "tracestate": "vendor=1"]), "\(job.traceContext)")
        let stored = try await SpoolProcess.run(["jobs", "show", job.id.description, "--json", "--store", store])
        #expect(try JSONDecoder().decode(Job.self, from: Data(stored.stdout.utf8)).traceContext["traceparent"] == parent, "kept by the store")

        let malformed = try await SpoolProcess.run(["enqueue", "spool.noop", "--json", "--store", store], environment: ["TRACEPARENT": "nonsense"])
        #expect(malformed.status == 0 && malformed.stderr.contains("TRACEPARENT 'nonsense' is not a W3C traceparent"), "\(malformed.stderr)")
        #expect(try JSONDecoder().decode(Job.self, from: Data(malformed.stdout.utf8)).traceContext.isEmpty)
    }
}
