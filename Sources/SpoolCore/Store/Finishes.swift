import Foundation

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
