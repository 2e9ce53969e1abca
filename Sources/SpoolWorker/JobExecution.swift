import Foundation
import Logging
import SpoolCore
import Synchronization

/// One attempt of one job in this process. Its code runs in a task of its agent's (one that runs
/// attempts one after another, ``AgentRunner``), or, when the
/// job has a timeout, in a task raced against that timeout; either can be cancelled on request
/// or abandoned at shutdown. Its code sees it through a ``JobContext``.
final class JobExecution: Sendable {
    enum Result: Sendable {
        case succeeded(JSONPayload?)
        case failed(Error)
        case timedOut(Duration)
        case unknownJob
    }

    private struct Flags {
        var cancelRequested = false
        var abandoned = false
        var finishing = false
        /// The task running the attempt, until it ends (``detach()``).
        var task: Task<Void, Never>?
        /// Cancels sent to `task` that have not yet returned.
        var cancelsInFlight = 0
        var worker: Task<Void, Never>?
        /// Jobs to enqueue when this attempt completes.
        var followUps: [NewJob] = []
    }

    let job: Job
    /// The dispatcher's `spool.trace` logger, without the job's metadata.
    let logger: Logger
    private let handler: JobHandler?
    private let flags = Mutex(Flags())

    init(job: Job, handler: JobHandler?, logger: Logger) {
        self.job = job
        self.handler = handler
        self.logger = logger
    }

    /// The jobs the attempt asked to enqueue on completion.
    var followUps: [NewJob] { flags.withLock { $0.followUps } }

    func enqueueOnCompletion(_ job: NewJob) { flags.withLock { $0.followUps.append(job) } }

    /// Whether someone asked to cancel this attempt.
    var cancelRequested: Bool { flags.withLock { $0.cancelRequested } }
    /// Whether the dispatcher gave the job up (shutdown, or it is held elsewhere now).
    var abandoned: Bool { flags.withLock { $0.abandoned } }

    /// Remembers the task running this attempt, so that cancelling reaches it.
    func attach(_ task: Task<Void, Never>) {
        flags.withLock { $0.task = task }
        cancel { $0.cancelRequested || $0.abandoned }
    }

    /// Lets go of the task that ran this attempt, which may run another one; `true` when a
    /// cancel of this attempt may have reached that task (or still may), which then must not.
    func detach() -> Bool {
        flags.withLock { flags in
            flags.task = nil
            return flags.cancelsInFlight > 0 || flags.cancelRequested || flags.abandoned
        }
    }

    /// Cancels the job's code cooperatively; the outcome is recorded as cancelled.
    func requestCancel() {
        cancel { flags in
            flags.cancelRequested = true
            return true
        }
    }

    /// Cancels the job's code and drops its outcome: the job is no longer this dispatcher's.
    /// Returns `false`, changing nothing, once the outcome is being recorded.
    @discardableResult
    func abandon() -> Bool {
        cancel { flags in
            guard !flags.finishing else { return false }
            flags.abandoned = true
            return true
        }
    }

    /// Cancels the attempt's tasks when `decide` says so; returns what it said. A cancel on its
    /// way to the task running the attempt is counted until it arrived (``detach()``).
    @discardableResult
    private func cancel(when decide: (inout Flags) -> Bool) -> Bool {
        let tasks = flags.withLock { flags -> (task: Task<Void, Never>?, worker: Task<Void, Never>?)? in
            guard decide(&flags) else { return nil }
            if flags.task != nil { flags.cancelsInFlight += 1 }
            return (flags.task, flags.worker)
        }
        guard let tasks else { return false }
        tasks.task?.cancel()
        tasks.worker?.cancel()
        if tasks.task != nil { flags.withLock { $0.cancelsInFlight -= 1 } }
        return true
    }

    /// Marks the outcome as being recorded; `false` when the job was abandoned first.
    func beginFinishing() -> Bool {
        flags.withLock { flags in
            guard !flags.abandoned else { return false }
            flags.finishing = true
            return true
        }
    }

    /// Runs the attempt. A job that ignores cancellation past its timeout is left running in
    /// the background; its eventual outcome is dropped.
    func run() async -> Result {
        guard let handler else { return .unknownJob }
        guard let timeout = job.timeout else {
            do {
                return .succeeded(try await handler(job, JobContext(execution: self)))
            } catch {
                return .failed(error)
            }
        }
        let once = Once<Result>()
        return await withCheckedContinuation { continuation in
            once.set(continuation)
            let worker = Task {
                do {
                    once.resume(.succeeded(try await handler(self.job, JobContext(execution: self))))
                } catch {
                    once.resume(.failed(error))
                }
            }
            let cancelled = flags.withLock { flags in
                flags.worker = worker
                return flags.cancelRequested || flags.abandoned
            }
            if cancelled { worker.cancel() }
            Task {
                do { try await Task.sleep(for: timeout) } catch { return }
                if once.resume(.timedOut(timeout)) { worker.cancel() }
            }
        }
    }
}

/// Resumes a continuation with the first value offered.
private final class Once<Value: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Value, Never>?, early: Value?, done: Bool)>((nil, nil, false))

    func set(_ continuation: CheckedContinuation<Value, Never>) {
        let early = state.withLock { state -> Value? in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(returning: early) }
    }

    @discardableResult
    func resume(_ value: Value) -> Bool {
        let continuation = state.withLock { state -> CheckedContinuation<Value, Never>?? in
            guard !state.done else { return .none }
            state.done = true
            guard let continuation = state.continuation else {
                state.early = value
                return .some(nil)
            }
            return .some(continuation)
        }
        switch continuation {
        case .none: return false
        case .some(let continuation?): continuation.resume(returning: value); return true
        case .some(nil): return true
        }
    }
}
