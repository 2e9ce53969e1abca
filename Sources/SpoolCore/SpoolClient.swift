import Foundation

/// Enqueues jobs and awaits their outcomes. It needs only a store: a client-only process uses
/// it without running a dispatcher.
public struct SpoolClient: Sendable {
    /// The store jobs go to.
    public let store: any JobStore
    /// The source of the current time.
    public let now: @Sendable () -> Date
    /// How often a wait re-reads the job when no in-process event arrives (other processes).
    public var pollInterval: Duration = .milliseconds(100)
    /// Where enqueues come from, for their trace spans (``JobTracing``): `swift` unless a
    /// command or server says otherwise.
    public var source = "swift"

    /// Creates a client over `store`.
    public init(store: any JobStore, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.now = now
    }

    /// Enqueues one job; returns the existing job when its unique key is taken.
    @discardableResult
    public func enqueue(_ job: NewJob) async throws -> Job {
        try await enqueue([job])[0].job
    }

    /// Enqueues many jobs in one transaction (in one `spool.enqueue` span when tracing is on,
    /// each job carrying its context).
    @discardableResult
    public func enqueue(_ jobs: [NewJob]) async throws -> [InsertResult] {
        guard let tracing = JobTracing.current else { return try await store.insert(jobs, now: now()) }
        return try await tracing.enqueue(jobs, source: source) { try await store.insert($0, now: now()) }
    }

    /// Enqueues a typed job.
    @discardableResult
    public func enqueue<Arguments>(_ name: JobName<Arguments>, _ arguments: Arguments, options: JobOptions = JobOptions()) async throws -> Job {
        try await enqueue(NewJob(name: name.rawValue, payload: try JSONPayload(encoding: arguments), options: options))
    }

    /// Waits until the job is terminal and returns it; throws ``SpoolError/Code/timedOut`` when
    /// `timeout` passes first and ``SpoolError/Code/jobNotFound`` for an unknown id.
    public func wait(for id: JobID, timeout: Duration? = nil) async throws -> Job {
        let deadline = timeout.map { now().addingTimeInterval($0.seconds) }
        while true {
            let events = store.events.subscribe(buffer: 16, to: [.jobsFinished])
            guard let job = try await store.job(id) else { throw SpoolError(.jobNotFound, "no job with id \(id)") }
            if job.state.isTerminal { return job }
            var interval = pollInterval
            if let deadline {
                let left = deadline.timeIntervalSince(now())
                guard left > 0 else {
                    throw SpoolError(.timedOut, "job \(id) is still \(job.state) after \(timeout!.seconds) seconds")
                }
                interval = min(interval, .seconds(clamping: left) + .milliseconds(1))
            }
            await Self.firstOf(finishedEvent: id, in: events, orAfter: interval)
        }
    }

    /// Waits for the job and returns its result decoded as `Result`; throws ``JobFailed`` when
    /// it was discarded or cancelled.
    public func outcome<Result: Decodable>(of id: JobID, as type: Result.Type = Result.self, timeout: Duration? = nil) async throws -> Result {
        let job = try await wait(for: id, timeout: timeout)
        guard job.state == .completed else { throw JobFailed(job: job) }
        return try (job.result ?? .null).decode(Result.self)
    }

    /// Enqueues a typed job and waits for its result: a remote call.
    public func call<Arguments, Result: Decodable>(_ name: JobName<Arguments>, _ arguments: Arguments, returning type: Result.Type = Result.self,
                                                   options: JobOptions = JobOptions(), timeout: Duration? = nil) async throws -> Result {
        let job = try await enqueue(name, arguments, options: options)
        return try await outcome(of: job.id, as: Result.self, timeout: timeout)
    }

    private static func firstOf(finishedEvent id: JobID, in events: AsyncStream<StoreEvent>, orAfter interval: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events {
                    if case .jobsFinished(let states) = event, states[id] != nil { return }
                }
            }
            group.addTask { try? await Task.sleep(for: interval) }
            await group.next()
            group.cancelAll()
        }
    }
}

/// A job awaited by a caller ended without completing.
public struct JobFailed: Error, CustomStringConvertible {
    /// The job as it ended (discarded or cancelled), with its error records.
    public let job: Job

    /// Creates the error.
    public init(job: Job) { self.job = job }

    /// The job's last recorded error, or its state.
    public var description: String {
        if let last = job.errors.last { return "job \(job.id) \(job.state): \(last.name): \(last.message)" }
        return "job \(job.id) \(job.state)"
    }
}
