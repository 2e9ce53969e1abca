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

    @Test("a job enqueued over HTTP with a traceparent and run by a separate spool worker: both export their spans, which form the caller's trace")
    func oneTraceAcrossProcesses() async throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("spans.jsonl"), receiverLog = directory.path("receiver.log")
        let python = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/python3"
        let receiver = try ChildProcess.spawn(python, ["-u", Self.receiver, output], environment: ProcessInfo.processInfo.environment,
                                              outputPath: receiverLog)
        defer { receiver.terminate() }
        var port: Int?
        for _ in 0..<200 where port == nil {
            port = Int(((try? String(contentsOfFile: receiverLog, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let receiverPort = try #require(port, "the receiver printed its port: \((try? String(contentsOfFile: receiverLog, encoding: .utf8)) ?? "")")
        // The collector's credentials (a header the exporter sends) never show in the logs.
        let secret = "collector-secret-\(UInt32.random(in: 0...UInt32.max))"
        let environment = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiverPort)", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                           "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer \(secret)",
                           "SPOOL_LOG_LEVEL": "debug", "OTEL_LOG_LEVEL": "debug"]
        let store = "sqlite:" + directory.path("spool.db")
        let server = try await ServeProcess.start(["--store", store, "--no-worker"], environment: environment, log: directory.path("serve.log"))
        let worker = try SpoolProcess.start(["worker", "--store", store], environment: environment, log: directory.path("worker.log"))
        defer { worker.terminate() }

        let traceID = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let callerSpan = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
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
