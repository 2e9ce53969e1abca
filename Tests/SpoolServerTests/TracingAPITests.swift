import Foundation
import InMemoryTracing
import SpoolCore
import SpoolTestSupport
import Testing
import Tracing

@Suite("HTTP API: traces")
struct TracingAPITests {
    @Test("POST /v1/jobs with the caller's trace context in its headers: the enqueue and the job's run continue the caller's trace")
    func requestHeadersContinueTheTrace() async throws {
        let tracer = InMemoryTracer()
        let job = try await withTracer(tracer) {
            try await withServer { server in
                let response = try await server.request("POST", "/v1/jobs", body: #"{"name":"spool.noop","queue":"traced"}"#,
                                                        headers: [InMemoryTracer.traceIDKey: "caller-trace", InMemoryTracer.spanIDKey: "caller-span"])
                #expect(response.status == 201)
                let job = try response.decode(Job.self)
                let done = try await server.request("GET", "/v1/jobs/\(job.id)?wait=60").decode(Job.self)
                #expect(done.state == .completed)
                return done
            }
        }
        #expect(!job.traceContext.isEmpty, "the job's JSON shows the context it carries")
        let spans = tracer.finishedSpans
        let enqueue = try #require(spans.first { $0.operationName == "spool.enqueue" })
        #expect(enqueue.traceID == "caller-trace" && enqueue.parentSpanID == "caller-span", "the caller's trace, under its span")
        #expect(enqueue.attributes["spool.enqueue.source"]?.toSpanAttribute() == .string("http"))
        let run = try #require(spans.first { $0.operationName == "spool.run spool.noop" })
        #expect(run.traceID == "caller-trace" && run.parentSpanID == enqueue.spanID, "the run in the same trace, under the enqueue")
    }

    @Test("without a tracer, a request's trace headers are ignored and the job carries nothing")
    func noTracer() async throws {
        try await withServer(worker: false) { server in
            let job = try await server.enqueue(#"{"name":"x"}"#)
            #expect(job.traceContext.isEmpty)
            let response = try await server.request("GET", "/v1/jobs/\(job.id)")
            #expect(!response.text.contains("traceContext"), "the JSON has no traceContext member")
        }
    }
}
