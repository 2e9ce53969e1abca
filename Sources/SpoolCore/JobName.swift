import Foundation

/// The stable name of a typed job and the type of its arguments.
///
/// The name, not the Swift type, is stored with each job, so renaming the type never breaks
/// jobs already enqueued:
///
/// ```swift
/// struct SendEmail: Codable, Sendable { var to: String }
/// extension JobName where Arguments == SendEmail {
///     static let sendEmail = JobName("mail.send")
/// }
/// ```
public struct JobName<Arguments: Codable & Sendable>: Hashable, Sendable, CustomStringConvertible {
    /// The name stored with each job.
    public let rawValue: String

    /// Creates a typed name.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
}

/// The options of an enqueue, apart from the name and the payload.
public struct JobOptions: Hashable, Sendable {
    /// The queue to wait in.
    public var queue: String = NewJob.defaultQueue
    /// Lower numbers run first under a priority policy.
    public var priority: Int = 0
    /// When to run; `nil` runs at once.
    public var runAt: Date?
    /// Quotas the job needs room in.
    public var quotas: [String] = []
    /// Free-form labels.
    public var tags: [String] = []
    /// While a job with this key is not terminal, enqueueing returns that job instead.
    public var uniqueKey: String?
    /// How many starts the job may have.
    public var maxAttempts: Int = NewJob.defaultMaxAttempts
    /// How long one attempt may run.
    public var timeout: Duration?

    /// Creates options; every field has the documented default.
    public init(queue: String = NewJob.defaultQueue, priority: Int = 0, runAt: Date? = nil, quotas: [String] = [],
                tags: [String] = [], uniqueKey: String? = nil, maxAttempts: Int = NewJob.defaultMaxAttempts,
                timeout: Duration? = nil) {
        self.queue = queue
        self.priority = priority
        self.runAt = runAt
        self.quotas = quotas
        self.tags = tags
        self.uniqueKey = uniqueKey
        self.maxAttempts = maxAttempts
        self.timeout = timeout
    }
}

extension NewJob {
    /// A request from a name, a payload and options.
    public init(name: String, payload: JSONPayload, options: JobOptions) {
        self.init(name: name, payload: payload, queue: options.queue, priority: options.priority, runAt: options.runAt,
                  quotas: options.quotas, tags: options.tags, uniqueKey: options.uniqueKey,
                  maxAttempts: options.maxAttempts, timeout: options.timeout)
    }
}
