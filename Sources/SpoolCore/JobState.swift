/// Where a job is in its life.
///
/// `scheduled` and `retryable` jobs wait for their run-at time; `available` jobs wait for an
/// agent; `running` jobs are held by a dispatcher under a lease. `completed`, `discarded` and
/// `cancelled` are terminal.
public enum JobState: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Waits for its run-at time before it becomes available.
    case scheduled
    /// May be claimed now.
    case available
    /// Held by a dispatcher.
    case running
    /// Finished successfully; terminal.
    case completed
    /// Failed an attempt and waits for its next run.
    case retryable
    /// Out of attempts, or failed with a non-retryable error; terminal.
    case discarded
    /// Cancelled before or while running; terminal.
    case cancelled

    /// Whether the job will never run again on its own.
    public var isTerminal: Bool {
        switch self {
        case .completed, .discarded, .cancelled: true
        case .scheduled, .available, .running, .retryable: false
        }
    }

    /// Whether the job waits to run (scheduled, available or retryable).
    public var isWaiting: Bool {
        switch self {
        case .scheduled, .available, .retryable: true
        case .running, .completed, .discarded, .cancelled: false
        }
    }

    public var description: String { rawValue }
}
