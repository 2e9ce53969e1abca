import Foundation
import SpoolCore

/// A lifecycle event of a dispatcher, delivered to the application's observer as it happens.
public enum DispatcherEvent: Sendable {
    /// The dispatcher registered with the store (after rescuing its own orphans).
    case registered(UUID)
    /// The dispatcher started its agents.
    case activated(UUID)
    /// The dispatcher finished its shutdown.
    case deactivated(UUID)
    /// A claimed job's code is about to run.
    case jobStarted(Job)
    /// A job's code returned; `outcome` is what will be recorded, `nil` when the dispatcher
    /// gave the job up (shutdown, or it is held elsewhere now).
    case jobEnded(Job, JobOutcome?)
    /// A job's outcome is durable in the store; the job is as recorded: its new state, result,
    /// error records and times (the store's own timestamps may differ by the write's latency).
    case jobRecorded(Job)
    /// A job was rescued from a dead holder (by this dispatcher's rescue or its restart).
    case jobRescued(Job)

    /// Every event's ``name``.
    public static let names: Set<String> = ["registered", "activated", "deactivated", "started", "ended", "recorded", "rescued"]

    /// A short name of the event: `registered`, `activated`, `deactivated`, `started`, `ended`, `recorded`, `rescued`.
    public var name: String {
        switch self {
        case .registered: "registered"
        case .activated: "activated"
        case .deactivated: "deactivated"
        case .jobStarted: "started"
        case .jobEnded: "ended"
        case .jobRecorded: "recorded"
        case .jobRescued: "rescued"
        }
    }
}

/// Receives a dispatcher's lifecycle events; it runs on the dispatcher's tasks, so keep it quick.
public typealias DispatcherObserver = @Sendable (DispatcherEvent) -> Void
