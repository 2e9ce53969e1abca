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

extension SpoolError {
    /// Job `id` cannot run again while `holder`, not finished, holds its unique key `key`.
    public static func uniqueKeyHeld(_ id: JobID, key: String, holder: String) -> SpoolError {
        SpoolError(.invalidState, "job \(id) cannot run again: its unique key '\(key)' is held by job \(holder), which is not finished")
    }
}

/// What one ``JobStore/prune(_:)`` did.
public struct PruneOutcome: Hashable, Sendable {
    /// How many jobs went (with `dryRun`, how many would have).
    public var deleted: Int
    /// How long the store worked inside its transaction: for SQLite, how long it held the
    /// write lock that claims and completions wait for, without the wait for the lock itself.
    /// Retention paces itself by this.
    public var held: Duration

    /// Creates an outcome.
    public init(deleted: Int, held: Duration) {
        self.deleted = deleted
        self.held = held
    }
}

/// Which finished jobs ``JobStore/prune(_:)`` deletes: those in one terminal state that
/// finished before a time, oldest first, at most a batch.
public struct PruneRequest: Hashable, Sendable {
    /// The state: `completed`, `discarded` or `cancelled`.
    public var state: JobState
    /// Only jobs that finished before this time.
    public var finishedBefore: Date
    /// At most this many: a batch small enough not to hold the store's write lock for long.
    public var limit: Int
    /// Counts what would be deleted (up to `limit`) and deletes nothing.
    public var dryRun: Bool

    /// Creates a request; a batch holds 500 jobs unless told otherwise.
    public init(state: JobState, finishedBefore: Date, limit: Int = 500, dryRun: Bool = false) {
        self.state = state
        self.finishedBefore = finishedBefore
        self.limit = limit
        self.dryRun = dryRun
    }

    /// Throws ``SpoolError/Code/invalidArgument`` unless the state is terminal and the limit positive.
    public func validate() throws {
        guard state.isTerminal else {
            throw SpoolError(.invalidArgument, "only finished jobs can be pruned: state must be completed, discarded or cancelled, not \(state)")
        }
        guard limit >= 1 else { throw SpoolError(.invalidArgument, "a prune batch must hold at least one job, not \(limit)") }
    }
}
