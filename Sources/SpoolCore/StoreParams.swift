import Foundation

/// The outcome of enqueueing one job.
public struct InsertResult: Hashable, Sendable {
    /// The job now in the store.
    public var job: Job
    /// `false` when a job with the same unique key was returned instead of a new one.
    public var inserted: Bool

    /// Creates a result.
    public init(job: Job, inserted: Bool) {
        self.job = job
        self.inserted = inserted
    }
}

/// What to list, newest first, one page at a time.
public struct JobQuery: Hashable, Sendable {
    /// Only jobs of this queue.
    public var queue: String?
    /// Only jobs in this state.
    public var state: JobState?
    /// Only jobs of this name.
    public var name: String?
    /// At most this many jobs.
    public var limit: Int
    /// Continue after this job (the previous page's `nextCursor`).
    public var after: JobID?

    /// Creates a query; the default page holds 50 jobs.
    public init(queue: String? = nil, state: JobState? = nil, name: String? = nil, limit: Int = 50, after: JobID? = nil) {
        self.queue = queue
        self.state = state
        self.name = name
        self.limit = limit
        self.after = after
    }
}

/// One page of a job listing.
public struct JobPage: Hashable, Sendable {
    /// The jobs, newest first.
    public var jobs: [Job]
    /// Where the next page starts; `nil` on the last page.
    public var nextCursor: JobID?

    /// Creates a page.
    public init(jobs: [Job], nextCursor: JobID?) {
        self.jobs = jobs
        self.nextCursor = nextCursor
    }
}

/// A request for jobs on behalf of one agent of one dispatcher.
public struct ClaimParams: Sendable {
    /// The dispatcher that will hold the jobs.
    public var dispatcher: UUID
    /// Which queues to take from; `nil` takes from every queue.
    public var queues: [String]?
    /// At most this many jobs: the agent's free capacity.
    public var limit: Int
    /// The order in which to take jobs.
    public var policy: AgentPolicy
    /// Which jobs the agent takes.
    public var filter: JobFilter
    /// The time of the claim.
    public var now: Date
    /// How long the hold lasts unless renewed by a ping.
    public var lease: Duration

    /// Creates claim parameters.
    public init(dispatcher: UUID, queues: [String]? = nil, limit: Int, policy: AgentPolicy = .fifo,
                filter: JobFilter = .any, now: Date, lease: Duration = .seconds(30)) {
        self.dispatcher = dispatcher
        self.queues = queues
        self.limit = limit
        self.policy = policy
        self.filter = filter
        self.now = now
        self.lease = lease
    }
}

/// How one attempt ended, as the dispatcher reports it.
public enum JobOutcome: Sendable, Hashable {
    /// Succeeded with an optional result; `followUps` are enqueued in the same transaction.
    case completed(result: JSONPayload?, followUps: [NewJob])
    /// Failed; retried at `retryAt`, or discarded when `retryAt` is `nil`.
    case failed(AttemptError, retryAt: Date?)
    /// Cancelled while running, with the reason.
    case cancelled(AttemptError)
    /// Asked to run again at `until` without using up an attempt.
    case snoozed(until: Date)
}

/// The end of one attempt of one job.
public struct Finish: Sendable, Hashable {
    /// The job.
    public var id: JobID
    /// The dispatcher that ran it; the store ignores the finish when another holds the job.
    public var dispatcher: UUID
    /// How it ended.
    public var outcome: JobOutcome

    /// Creates a finish record.
    public init(id: JobID, dispatcher: UUID, outcome: JobOutcome) {
        self.id = id
        self.dispatcher = dispatcher
        self.outcome = outcome
    }
}

/// A dispatcher introducing itself to the store.
public struct DispatcherRegistration: Sendable, Hashable {
    /// The dispatcher's persistent UUID.
    public var id: UUID
    /// The host it runs on.
    public var host: String
    /// Its process id.
    public var pid: Int
    /// Its agents.
    public var agents: [AgentInfo]
    /// The time of registration.
    public var now: Date
    /// How long a dispatcher may stay silent before it counts as dead: a registration of an id
    /// whose holder pinged more recently than this, from another process, is refused.
    public var deadAfter: Duration

    /// Creates a registration.
    public init(id: UUID, host: String, pid: Int, agents: [AgentInfo], now: Date, deadAfter: Duration = .seconds(10)) {
        self.id = id
        self.host = host
        self.pid = pid
        self.agents = agents
        self.now = now
        self.deadAfter = deadAfter
    }
}

/// A dispatcher's periodic sign of life.
public struct Ping: Sendable, Hashable {
    /// The dispatcher.
    public var dispatcher: UUID
    /// Its agents as they are now.
    public var agents: [AgentInfo]
    /// The time of the ping.
    public var now: Date
    /// The new lease of every job it holds.
    public var lease: Duration
    /// Jobs the store says this dispatcher holds, that it does not list as held and that were
    /// claimed before this time are rescued at once: a claim whose commit succeeded but whose
    /// answer was lost, or a finish that could not be recorded, left them behind. Only claims
    /// that have returned may be older; `nil` rescues nothing.
    public var rescueUnlistedBefore: Date?

    /// Creates a ping.
    public init(dispatcher: UUID, agents: [AgentInfo], now: Date, lease: Duration, rescueUnlistedBefore: Date? = nil) {
        self.dispatcher = dispatcher
        self.agents = agents
        self.now = now
        self.lease = lease
        self.rescueUnlistedBefore = rescueUnlistedBefore
    }

    /// Why a job found by ``rescueUnlistedBefore`` is rescued, for its error record.
    public var unlistedReason: String {
        "its dispatcher \(dispatcher.uuidString.lowercased()) held it without running it (a claim's answer or a finish was lost)"
    }
}

/// What the store answers a ping.
public struct PingReply: Sendable, Hashable {
    /// Jobs the dispatcher holds that someone asked to cancel.
    public var cancelRequested: [JobID]
    /// Jobs the dispatcher believes it holds but no longer does (rescued elsewhere).
    public var lost: [JobID]
    /// Jobs it held without listing them, rescued (see ``Ping/rescueUnlistedBefore``).
    public var rescued: [Job]

    /// Creates a reply.
    public init(cancelRequested: [JobID], lost: [JobID], rescued: [Job] = []) {
        self.cancelRequested = cancelRequested
        self.lost = lost
        self.rescued = rescued
    }
}

/// The state of a dispatcher as the store records it.
public enum DispatcherState: String, Sendable, Codable {
    /// Registered and pinging.
    case active
    /// Shut down cleanly.
    case inactive
    /// Its pings stopped; its jobs were rescued.
    case dead
}

/// A dispatcher as the store shows it.
public struct DispatcherInfo: Hashable, Sendable, Codable {
    /// Its persistent UUID.
    public var id: UUID
    /// The host it runs on.
    public var host: String
    /// Its process id.
    public var pid: Int
    /// Its recorded state.
    public var state: DispatcherState
    /// When it registered last.
    public var startedAt: Date
    /// When it pinged last.
    public var lastPingAt: Date
    /// Its agents.
    public var agents: [AgentInfo]

    /// Creates a dispatcher record.
    public init(id: UUID, host: String, pid: Int, state: DispatcherState, startedAt: Date, lastPingAt: Date, agents: [AgentInfo]) {
        self.id = id
        self.host = host
        self.pid = pid
        self.state = state
        self.startedAt = startedAt
        self.lastPingAt = lastPingAt
        self.agents = agents
    }
}

/// A queue with its pause flag and job counts.
public struct QueueInfo: Hashable, Sendable {
    /// The queue's name.
    public var name: String
    /// Whether it hands out no jobs.
    public var paused: Bool
    /// How many jobs are in each state.
    public var counts: [JobState: Int]

    /// Creates a queue record.
    public init(name: String, paused: Bool, counts: [JobState: Int]) {
        self.name = name
        self.paused = paused
        self.counts = counts
    }
}

/// A quota with its size and the jobs that use it now.
public struct QuotaInfo: Hashable, Sendable {
    /// The quota's name.
    public var name: String
    /// How many jobs naming it may run at once.
    public var size: Int
    /// The running jobs that name it.
    public var running: [JobID]
    /// Whether no further job naming it may start.
    public var filled: Bool { running.count >= size }

    /// Creates a quota record.
    public init(name: String, size: Int, running: [JobID]) {
        self.name = name
        self.size = size
        self.running = running
    }
}

extension JobOutcome {
    /// The state a job reaches with this outcome.
    public func state(now: Date) -> JobState {
        switch self {
        case .completed: .completed
        case .failed(_, let retryAt): retryAt == nil ? .discarded : .retryable
        case .cancelled: .cancelled
        case .snoozed(let until): until > now ? .scheduled : .available
        }
    }
}
