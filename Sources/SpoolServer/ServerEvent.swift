import Foundation
import SpoolCore
import SpoolWorker

/// Something that happened, as `/v1/events` streams it.
///
/// JSON: `{"type", "at"}` plus, by type, `"job"` (the whole job, as the API shows it),
/// `"dispatcher"` (its UUID), `"queue"` (a name) or `"quota"` (a name).
public struct ServerEvent: Sendable, Encodable {
    /// The kind of event; its raw value is the JSON `type`.
    public enum Kind: String, Sendable, Encodable, CaseIterable {
        /// A job was stored (`job`).
        case jobEnqueued = "job.enqueued"
        /// An attempt of a job began (`job`, now running).
        case jobStarted = "job.started"
        /// A job completed (`job`, with its result).
        case jobCompleted = "job.completed"
        /// A job failed for good: out of attempts or not retryable (`job`, discarded).
        case jobFailed = "job.failed"
        /// A job will run again: an attempt failed (`retryable`) or someone asked (`available`).
        case jobRetried = "job.retried"
        /// A job asked to run again later without using up an attempt (`job`).
        case jobSnoozed = "job.snoozed"
        /// A job was cancelled (`job`).
        case jobCancelled = "job.cancelled"
        /// A job was taken back from a dead holder (`job`, available again or discarded).
        case jobRescued = "job.rescued"
        /// A dispatcher registered with the store (`dispatcher`).
        case dispatcherRegistered = "dispatcher.registered"
        /// A dispatcher started its agents (`dispatcher`).
        case dispatcherActivated = "dispatcher.activated"
        /// A dispatcher shut down (`dispatcher`).
        case dispatcherDeactivated = "dispatcher.deactivated"
        /// A queue was paused (`queue`).
        case queuePaused = "queue.paused"
        /// A queue was resumed (`queue`).
        case queueResumed = "queue.resumed"
        /// A quota was created or resized (`quota`).
        case quotaChanged = "quota.changed"
        /// A quota was removed (`quota`).
        case quotaRemoved = "quota.removed"
    }

    /// The kind of event.
    public var type: Kind
    /// When it happened.
    public var at: Date
    /// The job it is about.
    public var job: Job?
    /// The dispatcher it is about.
    public var dispatcher: UUID?
    /// The queue it is about.
    public var queue: String?
    /// The quota it is about.
    public var quota: String?

    /// Creates an event.
    public init(_ type: Kind, at: Date = Date(), job: Job? = nil, dispatcher: UUID? = nil, queue: String? = nil, quota: String? = nil) {
        self.type = type
        self.at = at
        self.job = job
        self.dispatcher = dispatcher
        self.queue = queue
        self.quota = quota
    }

    /// The event for a dispatcher's lifecycle event; `nil` for those not streamed (an attempt's
    /// end is streamed once it is recorded).
    public init?(_ event: DispatcherEvent, at: Date = Date()) {
        switch event {
        case .registered(let id): self.init(.dispatcherRegistered, at: at, dispatcher: id)
        case .activated(let id): self.init(.dispatcherActivated, at: at, dispatcher: id)
        case .deactivated(let id): self.init(.dispatcherDeactivated, at: at, dispatcher: id)
        case .jobStarted(let job): self.init(.jobStarted, at: at, job: job)
        case .jobRescued(let job): self.init(.jobRescued, at: at, job: job)
        case .jobEnded: return nil
        case .jobRecorded(let job): self.init(ServerEvent.kind(ending: job), at: at, job: job)
        }
    }

    /// The kind of event that reports the end of an attempt of `job`, by the state it left the job in.
    static func kind(ending job: Job) -> Kind {
        switch job.state {
        case .completed: .jobCompleted
        case .discarded: .jobFailed
        case .retryable: .jobRetried
        case .cancelled: .jobCancelled
        case .scheduled, .available, .running: .jobSnoozed
        }
    }

    /// The job the event reports the end of: its job when in a terminal state.
    var endedJob: Job? {
        guard let job, job.state.isTerminal else { return nil }
        return job
    }

    /// The message an end-view client (a browser holding a subscription token) receives when
    /// `job` ends: `{"type": "job.ended", "at", "id", "state", "result"?, "fragmentURL"?}`, where
    /// `fragmentURL` is the result's member of that name (a `spool.http` job's
    /// `X-Spool-Fragment` answer header).
    static func endText(_ job: Job) -> String {
        var writer = JSONWriter(capacity: 128 + (job.result?.text.utf8.count ?? 0))
        writer.object { w in
            w.member("type"); w.string("job.ended")
            w.member("at"); w.string(ISO8601.format(job.finishedAt ?? Date()))
            w.member("id"); w.string(job.id.description)
            w.member("state"); w.string(job.state.rawValue)
            if let result = job.result {
                w.member("result"); w.raw(result.text)
                if case .object(let members) = result.value, case .string(let url)? = members["fragmentURL"] {
                    w.member("fragmentURL"); w.string(url)
                }
            }
        }
        return writer.text
    }

    /// The queue the event concerns, for filtering.
    var queueName: String? { job?.queue ?? queue }

    private enum CodingKeys: String, CodingKey { case type, at, job, dispatcher, queue, quota }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(ISO8601.format(at), forKey: .at)
        try container.encodeIfPresent(job, forKey: .job)
        try container.encodeIfPresent(dispatcher.map { $0.uuidString.lowercased() }, forKey: .dispatcher)
        try container.encodeIfPresent(queue, forKey: .queue)
        try container.encodeIfPresent(quota, forKey: .quota)
    }
}

/// Which events a subscriber receives: those of one queue, of one job, or all.
public struct EventFilter: Sendable, Hashable {
    /// Only events about this queue (its jobs, its pauses).
    public var queue: String?
    /// Only events about this job.
    public var job: JobID?

    /// Creates a filter; with neither, every event passes.
    public init(queue: String? = nil, job: JobID? = nil) {
        self.queue = queue
        self.job = job
    }

    /// Whether `event` passes.
    public func admits(_ event: ServerEvent) -> Bool {
        if let queue, event.queueName != queue { return false }
        if let job, event.job?.id != job { return false }
        return true
    }
}
