import Foundation
import InMemoryTracing
import SpoolCore
import SpoolWorker
import Testing
import Tracing

/// Spans of enqueues, claims and runs (``JobTracing``), with a tracer bound to the test's task.
@Suite("Traces of jobs")
struct TracingTests {
    @Test("an enqueue and its job's runs form one trace: each run is a child of the enqueue and links to it, with the job's attributes and outcome")
    func enqueueAndRunsFormOneTrace() async throws {
        let tracer = InMemoryTracer()
        let harness = try WorkerHarness()
        let (ok, flaky) = try await withTracer(tracer) {
            try await harness.withDispatcher { _ in
                let ok = try await harness.client.enqueue(NewJob(name: BuiltinJobs.noop, queue: "mail"))
                let flaky = try await harness.client.enqueue(NewJob(name: BuiltinJobs.fail, payload: #"{"times":1}"#))
                for id in [ok.id, flaky.id] { _ = try await harness.client.wait(for: id, timeout: .seconds(60)) }
                return (ok, flaky)
            }
        }
        let spans = tracer.finishedSpans
        let enqueues = spans.filter { $0.operationName == "spool.enqueue" }
        try #require(enqueues.count == 2, "\(spans.map(\.operationName))")
        #expect(enqueues.allSatisfy { $0.kind == .producer && $0[attribute: "spool.enqueue.source"] == .string("swift") })
        #expect(!ok.traceContext.isEmpty, "the job carries the enqueue's context")
        #expect(try await harness.store.job(ok.id)?.traceContext == ok.traceContext, "and the store kept it")

        func runs(of job: Job) -> [FinishedInMemorySpan] {
            spans.filter { $0.operationName == "spool.run \(job.name)" && $0[attribute: "spool.job.id"] == .string(job.id.description) }
        }
        for (job, enqueue) in zip([ok, flaky], enqueues) {
            for run in runs(of: job) {
                #expect(run.traceID == enqueue.traceID, "one trace")
                #expect(run.parentSpanID == enqueue.spanID, "the run is the enqueue's child")
                #expect(run.links.compactMap(\.context.inMemorySpanContext?.spanID) == [enqueue.spanID], "and follows from it")
                #expect(run.kind == .consumer)
                #expect(run[attribute: "spool.job.queue"] == .string(job.queue))
            }
        }
        #expect(runs(of: ok).map { $0[attribute: "spool.job.outcome"] } == [.string("completed")])
        let first = runs(of: flaky).filter { $0[attribute: "spool.job.attempt"] == .int64(1) }
        let second = runs(of: flaky).filter { $0[attribute: "spool.job.attempt"] == .int64(2) }
        #expect(first.map { $0[attribute: "spool.job.outcome"] } == [.string("retried")], "one span per attempt")
        #expect(second.map { $0[attribute: "spool.job.outcome"] } == [.string("completed")])
        #expect(first.first?.status?.code == .error, "the failed attempt's span says so")
        #expect(second.first?.status == nil)
        let claims = spans.filter { $0.operationName == "spool.claim" }
        #expect(claims.contains { $0[attribute: "spool.jobs.claimed"] == .int64(1) || $0[attribute: "spool.jobs.claimed"] == .int64(2) },
                "a claim span counts what it claimed")
    }

    @Test("a handler's own spans, and the runs of the jobs it enqueues on completion, are children of its run's span")
    func handlerSpansNest() async throws {
        let tracer = InMemoryTracer()
        let harness = try WorkerHarness()
        harness.registry.register(name: "traced.work") { _, context in
            withSpan("inside the handler") { _ in }
            context.enqueueOnCompletion(NewJob(name: "traced.next"))
            return nil
        }
        let next = Gate()
        harness.registry.register(name: "traced.next") { _, _ in
            next.open()
            return nil
        }
        try await withTracer(tracer) {
            try await harness.withDispatcher { _ in
                let job = try await harness.client.enqueue(NewJob(name: "traced.work"))
                _ = try await harness.client.wait(for: job.id, timeout: .seconds(60))
                await next.wait()
                let deadline = ContinuousClock.now + .seconds(30)
                while !tracer.finishedSpans.contains(where: { $0.operationName == "spool.run traced.next" }), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
        }
        let spans = tracer.finishedSpans
        let run = try #require(spans.first { $0.operationName == "spool.run traced.work" })
        let inside = try #require(spans.first { $0.operationName == "inside the handler" })
        #expect(inside.parentSpanID == run.spanID && inside.traceID == run.traceID)
        let following = try #require(spans.first { $0.operationName == "spool.run traced.next" })
        #expect(following.traceID == run.traceID && following.parentSpanID == run.spanID, "the follow-up continues the run's trace")
    }

    @Test("with no tracer there are no spans and jobs carry no trace context")
    func offByDefault() async throws {
        let harness = try WorkerHarness()
        #expect(JobTracing.current == nil)
        let job = try await harness.withDispatcher { _ in
            let job = try await harness.client.enqueue(NewJob(name: BuiltinJobs.noop))
            return try await harness.client.wait(for: job.id, timeout: .seconds(60))
        }
        #expect(job.state == .completed && job.traceContext.isEmpty)
    }
}

extension FinishedInMemorySpan {
    /// The span's attribute `key`, if set.
    subscript(attribute key: String) -> SpanAttribute? { attributes[key]?.toSpanAttribute() }
}
