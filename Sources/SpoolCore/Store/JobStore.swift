import Foundation

// The store contract, one section at a time. The types a section adds live beside this file
// under the section's name (Jobs.swift, Claims.swift, Finishes.swift, Queues.swift, Quotas.swift,
// Dispatchers.swift, Events.swift; Cron adds none), and every store implements each section in
// a file of that name: InMemoryJobStore+Jobs.swift, SQLiteStore+Claims.swift, and so on.

/// The contract every store implements. The shared conformance suite in SpoolTestSupport is its
/// definition of correct.
///
/// Every operation is atomic. Times come from the caller (`now`), so behaviour over time is
/// testable without waiting.
///
/// The requirements come in sections: Jobs, Claims, Finishes, Queues, Quotas, Dispatchers, Cron
/// and Events (see <doc:ImplementingAStore>).
public protocol JobStore: Sendable {
    /// The limits the store enforces on enqueue.
    var limits: JobLimits { get }

    // MARK: Jobs

    /// Enqueues jobs in one transaction. Each job is validated first; an unknown quota or an
    /// invalid job fails the whole call and stores nothing. A job whose unique key is held by a
    /// non-terminal job returns that job with `inserted == false`.
    func insert(_ jobs: [NewJob], now: Date) async throws -> [InsertResult]

    /// The job with `id`, or `nil`.
    func job(_ id: JobID) async throws -> Job?

    /// Jobs matching `query`, newest first.
    func jobs(_ query: JobQuery) async throws -> JobPage

    /// Cancels a job: a waiting job becomes `cancelled` at once; a running job is marked
    /// `cancelRequested` for its dispatcher. Terminal jobs are returned unchanged.
    func cancel(_ id: JobID, now: Date) async throws -> Job

    /// Makes a job that is not running available to run now; a job out of attempts gains one.
    func retry(_ id: JobID, now: Date) async throws -> Job

    /// Replaces the quotas of a waiting job; every name must exist.
    func setQuotas(_ id: JobID, quotas: [String]) async throws -> Job

    /// Returns running jobs of a dispatcher that is shutting down to the queue, without using
    /// up an attempt.
    func release(_ ids: [JobID], dispatcher: UUID, now: Date) async throws

    /// Deletes finished jobs: of `ids`, those in a terminal state (`completed`, `discarded`,
    /// `cancelled`) are removed with everything recorded of them, and the rest are left alone.
    /// Returns the ids deleted.
    func delete(_ ids: [JobID]) async throws -> [JobID]

    /// Deletes the oldest jobs of `request.state` (a terminal state) that finished before
    /// `request.finishedBefore`, at most `request.limit` of them, with everything recorded of
    /// them, in one short transaction; returns how many went (with `dryRun`, how many would
    /// have) and how long the transaction's work took. Stores that keep a file give the freed
    /// space back as they go.
    func prune(_ request: PruneRequest) async throws -> PruneOutcome

    // MARK: Claims

    /// Hands out up to `params.limit` waiting jobs to the dispatcher, honouring queues, pauses,
    /// run-at times, the policy, the filter and every quota, and marks them running.
    func claim(_ params: ClaimParams) async throws -> [Job]

    // MARK: Finishes

    /// Records the end of attempts. A finish applies only while the job is running and held by
    /// the finishing dispatcher; the result says, for each finish in order, whether it applied.
    func finish(_ finishes: [Finish], now: Date) async throws -> [Bool]

    /// Records the end of attempts, then claims jobs for the slots they free, in one atomic
    /// step where the store can: a dispatcher's busy agents go from one batch to the next in a
    /// single round trip. Returns whether each finish applied, and the jobs of each claim in
    /// order. The default records and claims one after the other.
    func finishAndClaim(_ finishes: [Finish], claims: [ClaimParams], now: Date) async throws -> (applied: [Bool], claimed: [[Job]])

    // MARK: Queues

    /// Every queue that holds jobs or has been paused.
    func queues() async throws -> [QueueInfo]

    /// Pauses or resumes a queue; a paused queue accepts jobs and hands out none.
    func setPaused(_ queue: String, paused: Bool) async throws

    // MARK: Quotas

    /// Every quota with its running jobs.
    func quotas() async throws -> [QuotaInfo]

    /// Creates a quota; the size defaults to 1.
    @discardableResult
    func createQuota(_ name: String, size: Int) async throws -> QuotaInfo

    /// Changes a quota's size; running jobs are never stopped.
    @discardableResult
    func resizeQuota(_ name: String, size: Int) async throws -> QuotaInfo

    /// Removes a quota; waiting jobs naming it then ignore the name.
    func removeQuota(_ name: String) async throws

    // MARK: Dispatchers

    /// Records a dispatcher as active. Jobs still held by its UUID are left from an unclean
    /// shutdown: they are rescued at once and returned.
    ///
    /// When the store's record of the id shows another live holder
    /// (``DispatcherRegistration/conflict(with:isRunning:)``), nothing changes and the call throws
    /// that ``SpoolError/Code/dispatcherInUse`` error: two processes never act as one dispatcher.
    /// The check and the registration are one transaction, so of two processes registering one
    /// id at once, the second is judged against the first.
    func register(_ registration: DispatcherRegistration) async throws -> [Job]

    /// Records a sign of life and renews the lease of every job the dispatcher holds.
    func ping(_ ping: Ping, holding: [JobID]) async throws -> PingReply

    /// Records a clean shutdown.
    func deactivate(_ dispatcher: UUID, now: Date) async throws

    /// Every dispatcher the store knows.
    func dispatchers() async throws -> [DispatcherInfo]

    /// Declares dead the active dispatchers silent since `deadBefore`, and rescues their jobs
    /// and every running job whose lease expired: each is made available again, or discarded
    /// when out of attempts. Returns the rescued jobs.
    func rescue(deadBefore: Date, now: Date) async throws -> [Job]

    // MARK: Cron

    /// Enqueues `job` for `tick` of `schedule` unless that tick (or a later one) already fired.
    /// Returns the job when this call fired the tick, `nil` otherwise.
    func fireCron(schedule: String, tick: Date, job: NewJob, now: Date) async throws -> Job?

    /// Takes the turn of `tick` for the periodic task `name` unless that tick (or a later one)
    /// was taken: of many dispatchers asking, one does the task each time. Names share the
    /// namespace of cron schedules; Spool's own contain `=`, which no command-line schedule can.
    func takeTurn(_ name: String, tick: Date) async throws -> Bool

    // MARK: Events

    /// In-process notifications of what this store instance committed.
    var events: StoreEvents { get }
}

// MARK: Finishes

extension JobStore {
    public func finishAndClaim(_ finishes: [Finish], claims: [ClaimParams], now: Date) async throws -> (applied: [Bool], claimed: [[Job]]) {
        let applied = try await finish(finishes, now: now)
        var claimed: [[Job]] = []
        for params in claims { claimed.append(try await claim(params)) }
        return (applied, claimed)
    }
}

// MARK: Quotas

extension JobStore {
    /// Creates a quota of the default size, 1.
    @discardableResult
    public func createQuota(_ name: String) async throws -> QuotaInfo {
        try await createQuota(name, size: 1)
    }

    /// The quota named `name`, or `nil`.
    public func quota(_ name: String) async throws -> QuotaInfo? {
        try await quotas().first { $0.name == name }
    }
}
