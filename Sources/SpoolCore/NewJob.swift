import Foundation

/// A request to enqueue one job: the name and payload, and every option of `spool enqueue`.
public struct NewJob: Hashable, Sendable {
    /// The default queue's name.
    public static let defaultQueue = "default"
    /// The default number of attempts before a job is discarded.
    public static let defaultMaxAttempts = 20

    /// The registered name that runs the job.
    public var name: String
    /// The job's arguments as JSON.
    public var payload: JSONPayload
    /// The queue to wait in.
    public var queue: String
    /// Lower numbers run first under a priority policy.
    public var priority: Int
    /// When to run; `nil` runs at once.
    public var runAt: Date?
    /// Quotas the job needs room in while it runs; each must exist.
    public var quotas: [String]
    /// Free-form labels.
    public var tags: [String]
    /// While a job with this key is not terminal, enqueueing returns that job instead.
    public var uniqueKey: String?
    /// How many starts the job may have.
    public var maxAttempts: Int
    /// How long one attempt may run.
    public var timeout: Duration?
    /// The enqueuing code's trace context (see ``Job/traceContext``); ``JobTracing`` fills it.
    public var traceContext: TraceContext

    /// Creates a request; every option has the documented default.
    public init(
        name: String, payload: JSONPayload = .emptyObject, queue: String = NewJob.defaultQueue,
        priority: Int = 0, runAt: Date? = nil, quotas: [String] = [], tags: [String] = [],
        uniqueKey: String? = nil, maxAttempts: Int = NewJob.defaultMaxAttempts, timeout: Duration? = nil,
        traceContext: TraceContext = TraceContext()
    ) {
        self.name = name
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.runAt = runAt
        self.quotas = quotas
        self.tags = tags
        self.uniqueKey = uniqueKey
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.traceContext = traceContext
    }

    /// Throws a ``SpoolError`` naming the first field that breaks a rule: empty name or queue,
    /// a payload over `limits.maxPayloadBytes`, fewer than one attempt, a timeout that is not
    /// positive or longer than ``TimeRange/longestSeconds``, a `runAt` outside ``TimeRange``.
    public func validate(_ limits: JobLimits) throws {
        guard !name.isEmpty else { throw SpoolError(.invalidArgument, "job name must not be empty") }
        guard name.unicodeScalars.count <= 200 else { throw SpoolError(.invalidArgument, "job name is longer than 200 characters") }
        guard !queue.isEmpty else { throw SpoolError(.invalidArgument, "queue name must not be empty") }
        guard queue.unicodeScalars.count <= 200 else { throw SpoolError(.invalidArgument, "queue name is longer than 200 characters") }
        let size = payload.byteCount
        guard size <= limits.maxPayloadBytes else {
            throw SpoolError(.payloadTooLarge, "payload of job '\(name)' is \(size) bytes; the limit is \(limits.maxPayloadBytes)")
        }
        guard maxAttempts >= 1 else { throw SpoolError(.invalidArgument, "maxAttempts must be at least 1, got \(maxAttempts)") }
        if let timeout, !(TimeRange.shortestTimeout...TimeRange.longestSeconds).contains(timeout.seconds) {
            throw SpoolError(.invalidArgument, "timeout must be from 0.001 to \(Int(TimeRange.longestSeconds)) seconds, got \(timeout.seconds)")
        }
        if let runAt, !TimeRange.contains(runAt) {
            throw SpoolError(.invalidArgument, "runAt must be \(TimeRange.description), got \(runAt.timeIntervalSince1970) s since 1970-01-01")
        }
        if quotas.contains(where: \.isEmpty) { throw SpoolError(.invalidArgument, "quota names must not be empty") }
        // A NUL character would be cut off by some of SQLite's bindings and not by others.
        for (field, text) in [("name", name), ("queue", queue), ("uniqueKey", uniqueKey ?? "")] + quotas.map({ ("quotas", $0) })
            + tags.map({ ("tags", $0) }) where text.utf8.contains(0) {
            throw SpoolError(.invalidArgument, "\(field) must not contain the NUL character")
        }
        if let uniqueKey, uniqueKey.isEmpty { throw SpoolError(.invalidArgument, "unique key must not be empty") }
    }
}

/// Limits every store enforces on what it accepts.
public struct JobLimits: Hashable, Sendable {
    /// The largest payload accepted, in bytes of JSON text (default 1 MiB).
    public var maxPayloadBytes: Int

    /// The defaults: payloads up to 1 MiB.
    public static let `default` = JobLimits(maxPayloadBytes: 1 << 20)

    /// Creates limits.
    public init(maxPayloadBytes: Int) { self.maxPayloadBytes = maxPayloadBytes }
}
