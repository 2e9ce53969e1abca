import Foundation
import SpoolCore
import Synchronization

/// One attempt of one job in this process: its code runs in its own task, raced against the
/// job's timeout, and can be cancelled on request or abandoned at shutdown.
final class JobExecution: Sendable {
    enum Result: Sendable {
        case succeeded(JSONPayload?)
        case failed(Error)
        case timedOut(Duration)
        case unknownJob
    }

    let job: Job
    let context: JobContext
    private let handler: JobHandler?
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let flags = Mutex<(cancelRequested: Bool, abandoned: Bool, finishing: Bool)>((false, false, false))

    init(job: Job, handler: JobHandler?, context: JobContext) {
        self.job = job
        self.handler = handler
        self.context = context
    }

    /// Whether someone asked to cancel this attempt.
    var cancelRequested: Bool { flags.withLock { $0.cancelRequested } }
    /// Whether the dispatcher gave the job up (shutdown, or it was rescued elsewhere).
    var abandoned: Bool { flags.withLock { $0.abandoned } }

    /// Cancels the job's task cooperatively; the outcome is recorded as cancelled.
    func requestCancel() {
        flags.withLock { $0.cancelRequested = true }
        task.withLock { $0 }?.cancel()
    }

    /// Cancels the job's task and drops its outcome: the job is no longer this dispatcher's.
    /// Returns `false`, changing nothing, once the outcome is being recorded.
    @discardableResult
    func abandon() -> Bool {
        let taken = flags.withLock { flags -> Bool in
            guard !flags.finishing else { return false }
            flags.abandoned = true
            return true
        }
        if taken { task.withLock { $0 }?.cancel() }
        return taken
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
        let once = Once<Result>()
        return await withCheckedContinuation { continuation in
            once.set(continuation)
            let job = self.job, context = self.context
            let work = Task {
                do {
                    once.resume(.succeeded(try await handler(job, context)))
                } catch {
                    once.resume(.failed(error))
                }
            }
            task.withLock { $0 = work }
            if flags.withLock({ $0.cancelRequested || $0.abandoned }) { work.cancel() }
            if let timeout = job.timeout {
                Task {
                    do { try await Task.sleep(for: timeout) } catch { return }
                    if once.resume(.timedOut(timeout)) { work.cancel() }
                }
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
