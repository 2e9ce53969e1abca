import Foundation

/// A job as a store holds it: what to run, where it is in its life, and what happened so far.
///
/// Its `Codable` form is Spool's one JSON shape for a job (API, CLI `--json`, events).
public struct Job: Hashable, Sendable {
    /// The job's id.
    public var id: JobID
    /// The queue it waits in.
    public var queue: String
    /// The registered name that runs it.
    public var name: String
    /// Its arguments.
    public var payload: JSONPayload
    /// Where it is in its life.
    public var state: JobState
    /// Lower numbers run first under a priority policy.
    public var priority: Int
    /// How many times it has started (0 before the first run).
    public var attempt: Int
    /// How many starts it may have before it is discarded.
    public var maxAttempts: Int
    /// When it may run next.
    public var runAt: Date
    /// When it was enqueued.
    public var createdAt: Date
    /// When its latest attempt started.
    public var startedAt: Date?
    /// When it reached a terminal state.
    public var finishedAt: Date?
    /// The quotas it needs room in while it runs.
    public var quotas: [String]
    /// Free-form labels; agents may filter on them.
    public var tags: [String]
    /// While a job with this key is not terminal, enqueueing another returns this one.
    public var uniqueKey: String?
    /// How long one attempt may run before it is cancelled and fails.
    public var timeout: Duration?
    /// The dispatcher that holds it while it runs.
    public var dispatcher: UUID?
    /// Until when the dispatcher's hold is valid unless renewed.
    public var leaseExpiresAt: Date?
    /// Whether someone asked to cancel it while it runs.
    public var cancelRequested: Bool
    /// The result of the successful attempt.
    public var result: JSONPayload?
    /// One record per failed attempt, oldest first.
    public var errors: [AttemptError]
    /// The trace context of the code that enqueued it, as its tracer propagates it (for W3C
    /// trace context, a `traceparent` entry): the job's run continues that trace. Empty when
    /// no tracer was installed.
    public var traceContext: TraceContext

    /// Creates a job record; stores use this when they read rows back.
    public init(
        id: JobID, queue: String, name: String, payload: JSONPayload, state: JobState,
        priority: Int = 0, attempt: Int = 0, maxAttempts: Int = NewJob.defaultMaxAttempts,
        runAt: Date, createdAt: Date, startedAt: Date? = nil, finishedAt: Date? = nil,
        quotas: [String] = [], tags: [String] = [], uniqueKey: String? = nil, timeout: Duration? = nil,
        dispatcher: UUID? = nil, leaseExpiresAt: Date? = nil, cancelRequested: Bool = false,
        result: JSONPayload? = nil, errors: [AttemptError] = [], traceContext: TraceContext = TraceContext()
    ) {
        self.id = id
        self.queue = queue
        self.name = name
        self.payload = payload
        self.state = state
        self.priority = priority
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.quotas = quotas
        self.tags = tags
        self.uniqueKey = uniqueKey
        self.timeout = timeout
        self.dispatcher = dispatcher
        self.leaseExpiresAt = leaseExpiresAt
        self.cancelRequested = cancelRequested
        self.result = result
        self.errors = errors
        self.traceContext = traceContext
    }

    /// A new job from an enqueue request, in `scheduled` or `available` state.
    public init(new: NewJob, id: JobID, now: Date) {
        let runAt = new.runAt ?? now
        self.init(
            id: id, queue: new.queue, name: new.name, payload: new.payload,
            state: runAt > now ? .scheduled : .available, priority: new.priority,
            maxAttempts: new.maxAttempts, runAt: runAt, createdAt: now, quotas: new.quotas,
            tags: new.tags, uniqueKey: new.uniqueKey, timeout: new.timeout, traceContext: new.traceContext
        )
    }
}

extension Job: Codable {
    private enum CodingKeys: String, CodingKey {
        case id, queue, name, payload, state, priority, attempt, maxAttempts, runAt, createdAt
        case startedAt, finishedAt, quotas, tags, uniqueKey, timeout, dispatcher, leaseExpiresAt
        case cancelRequested, result, errors, traceContext
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeout)
        self.init(
            id: try c.decode(JobID.self, forKey: .id),
            queue: try c.decode(String.self, forKey: .queue),
            name: try c.decode(String.self, forKey: .name),
            payload: try c.decode(JSONPayload.self, forKey: .payload),
            state: try c.decode(JobState.self, forKey: .state),
            priority: try c.decode(Int.self, forKey: .priority),
            attempt: try c.decode(Int.self, forKey: .attempt),
            maxAttempts: try c.decode(Int.self, forKey: .maxAttempts),
            runAt: try ISO8601.decode(c, forKey: .runAt),
            createdAt: try ISO8601.decode(c, forKey: .createdAt),
            startedAt: try ISO8601.decodeIfPresent(c, forKey: .startedAt),
            finishedAt: try ISO8601.decodeIfPresent(c, forKey: .finishedAt),
            quotas: try c.decodeIfPresent([String].self, forKey: .quotas) ?? [],
            tags: try c.decodeIfPresent([String].self, forKey: .tags) ?? [],
            uniqueKey: try c.decodeIfPresent(String.self, forKey: .uniqueKey),
            timeout: timeoutSeconds.map { .seconds(clamping: $0) },
            dispatcher: try c.decodeIfPresent(UUID.self, forKey: .dispatcher),
            leaseExpiresAt: try ISO8601.decodeIfPresent(c, forKey: .leaseExpiresAt),
            cancelRequested: try c.decodeIfPresent(Bool.self, forKey: .cancelRequested) ?? false,
            result: try c.decodeIfPresent(JSONPayload.self, forKey: .result),
            errors: try c.decodeIfPresent([AttemptError].self, forKey: .errors) ?? [],
            traceContext: try c.decodeIfPresent(TraceContext.self, forKey: .traceContext) ?? TraceContext()
        )
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(queue, forKey: .queue)
        try c.encode(name, forKey: .name)
        try c.encode(payload, forKey: .payload)
        try c.encode(state, forKey: .state)
        try c.encode(priority, forKey: .priority)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encode(ISO8601.format(runAt), forKey: .runAt)
        try c.encode(ISO8601.format(createdAt), forKey: .createdAt)
        try c.encode(startedAt.map(ISO8601.format), forKey: .startedAt)
        try c.encode(finishedAt.map(ISO8601.format), forKey: .finishedAt)
        try c.encode(quotas, forKey: .quotas)
        try c.encode(tags, forKey: .tags)
        try c.encode(uniqueKey, forKey: .uniqueKey)
        try c.encode(timeout.map(\.seconds), forKey: .timeout)
        try c.encode(dispatcher.map { $0.uuidString.lowercased() }, forKey: .dispatcher)
        try c.encode(leaseExpiresAt.map(ISO8601.format), forKey: .leaseExpiresAt)
        try c.encode(cancelRequested, forKey: .cancelRequested)
        try c.encode(result, forKey: .result)
        try c.encode(errors, forKey: .errors)
        if !traceContext.isEmpty { try c.encode(traceContext, forKey: .traceContext) }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
