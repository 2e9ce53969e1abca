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
