import Foundation
import Instrumentation
import Tracing

/// Spool's spans (DESIGN §11), through swift-distributed-tracing: one for each enqueue, each
/// claim batch and each run of a job. An enqueue span's context goes into every job it inserts
/// (``NewJob/traceContext``, kept by the store), and the job's run continues that trace: its span
/// is a child of the enqueue span and also links to it (the run follows from the enqueue, in
/// whichever process and however much later it happens).
///
/// The tracer is the one the process bootstrapped (`InstrumentationSystem`) or one bound with
/// `withTracer`; with none (the no-op tracer), ``current`` is `nil` and callers skip every span
/// and store no context, so tracing costs nothing when it is off.
public struct JobTracing: Sendable {
    /// The tracer spans go to.
    public let tracer: any Tracer

    /// Tracing through `tracer`.
    public init(tracer: any Tracer) {
        self.tracer = tracer
    }

    /// The tracer in effect for the calling task, or `nil` when none is (tracing is off).
    public static var current: JobTracing? {
        let tracer = InstrumentationSystem.tracer
        return tracer is NoOpTracer ? nil : JobTracing(tracer: tracer)
    }

    /// Runs `insert` with `jobs` inside a span named `spool.enqueue` (a child of `context`, by
    /// default the calling task's), each job carrying the span's context. `source` says where
    /// the enqueue came from (`http`, `cli`, `swift`).
    public func enqueue<Result>(_ jobs: [NewJob], source: String, context: InstrumentationContext = .current ?? .topLevel,
                                _ insert: ([NewJob]) async throws -> Result) async throws -> Result {
        let span = tracer.startSpan("spool.enqueue", context: context, ofKind: .producer)
        defer { span.end() }
        span.attributes["spool.enqueue.source"] = source
        span.attributes["spool.jobs.count"] = jobs.count
        if let first = jobs.first {
            span.attributes["spool.job.name"] = first.name
            span.attributes["spool.job.queue"] = first.queue
        }
        let traced = carry(jobs, from: span)
        do {
            return try await InstrumentationContext.$current.withValue(span.context) { try await insert(traced) }
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            throw error
        }
    }

    /// The entries that carry `context` to another process, as the tracer writes them (for W3C
    /// trace context, `traceparent` and `tracestate`): for request headers.
    public func propagation(of context: InstrumentationContext) -> [String: String] {
        var carried: [String: String] = [:]
        tracer.inject(context, into: &carried, using: Carrier())
        return carried
    }

    /// `jobs`, each carrying the context of `span` (a job enqueued inside it continues its trace).
    public func carry(_ jobs: [NewJob], from span: any Span) -> [NewJob] {
        let traceContext = TraceContext(propagation(of: span.context))
        return jobs.map { job in
            var job = job
            job.traceContext = traceContext
            return job
        }
    }

    /// The context a carrier holds (request headers by lowercased name, say), as the tracer
    /// reads it: the parent of an enqueue that came with it. Whatever the tracer cannot read
    /// is ignored.
    public func context(from carrier: [String: String]) -> InstrumentationContext {
        var context = InstrumentationContext.topLevel
        tracer.extract(carrier, into: &context, using: Carrier())
        return context
    }

    /// Starts the span of one claim batch (`spool.claim`); the caller sets what it claimed and ends it.
    public func startClaim(queues: [String]) -> any Span {
        let span = tracer.startSpan("spool.claim", context: InstrumentationContext.topLevel, ofKind: .internal)
        span.attributes["spool.queues"] = queues.joined(separator: ",")
        return span
    }

    /// Starts the span of one run of `job` (`spool.run`): a child of the context the job carries
    /// (a new trace when it carries none), linked to it, with the job's id, name, queue and
    /// attempt. End it with ``finish(_:outcome:error:)``.
    public func startRun(_ job: Job) -> any Span {
        var context = InstrumentationContext.topLevel
        if !job.traceContext.isEmpty {
            tracer.extract(job.traceContext.values, into: &context, using: Self.Carrier())
        }
        let span = tracer.startSpan("spool.run \(job.name)", context: context, ofKind: .consumer)
        if !job.traceContext.isEmpty {
            span.addLink(SpanLink(context: context, attributes: ["spool.link": "enqueued"]))
        }
        span.attributes["spool.job.id"] = job.id.description
        span.attributes["spool.job.name"] = job.name
        span.attributes["spool.job.queue"] = job.queue
        span.attributes["spool.job.attempt"] = job.attempt
        return span
    }

    /// Ends a run's span with how the attempt ended (`completed`, `retried`, `discarded`,
    /// `cancelled`, `snoozed`, `released`) and the error it ended with, if any.
    public static func finish(_ span: any Span, outcome: String, error: String? = nil) {
        span.attributes["spool.job.outcome"] = outcome
        if let error {
            span.addEvent(SpanEvent(name: "exception", attributes: ["exception.message": .string(error)]))
            span.setStatus(SpanStatus(code: .error, message: error))
        }
        span.end()
    }

    /// Reads and writes a trace context as a dictionary of strings.
    struct Carrier: Extractor, Injector {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }
}
