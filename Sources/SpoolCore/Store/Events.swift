import Foundation
import Synchronization

/// Something a store instance committed, announced to subscribers in the same process.
public enum StoreEvent: Sendable, Hashable {
    /// Jobs became available in these queues.
    case jobsAvailable(queues: [String])
    /// Jobs reached these states (terminal, retryable or scheduled again).
    case jobsFinished([JobID: JobState])
    /// Someone asked to cancel this running job.
    case cancelRequested(JobID)

    /// The kinds of event, for subscribers that want only some.
    public enum Kind: Sendable, Hashable, CaseIterable {
        /// ``StoreEvent/jobsAvailable(queues:)``.
        case jobsAvailable
        /// ``StoreEvent/jobsFinished(_:)``.
        case jobsFinished
        /// ``StoreEvent/cancelRequested(_:)``.
        case cancelRequested
    }

    /// This event's kind.
    public var kind: Kind {
        switch self {
        case .jobsAvailable: .jobsAvailable
        case .jobsFinished: .jobsFinished
        case .cancelRequested: .cancelRequested
        }
    }
}

/// The in-process notification hub of one store instance: dispatchers wake on it without
/// waiting for a poll, and callers awaiting an outcome learn of it at once.
///
/// Other processes sharing the store learn of these events only when the store relays them
/// (PostgreSQL's LISTEN/NOTIFY, SQLite's change watcher); otherwise they poll. The ends of jobs
/// other processes run are relayed only after ``followEndsEverywhere()``.
public final class StoreEvents: Sendable {
    private struct Subscribers {
        var next = 0
        var continuations: [Int: (kinds: Set<StoreEvent.Kind>, continuation: AsyncStream<StoreEvent>.Continuation)] = [:]
        var subscribed = false
        var following = false
    }

    private let subscribers = Mutex(Subscribers())
    private let firstSubscribed: (@Sendable (StoreEvents) -> Void)?
    private let startFollowing: (@Sendable (StoreEvents) -> Void)?
    private let stopFollowing: (@Sendable () -> Void)?

    /// Creates an empty hub.
    public init() {
        firstSubscribed = nil
        startFollowing = nil
        stopFollowing = nil
    }

    /// Creates an empty hub that calls `firstSubscribed` with itself once, when the first
    /// subscriber arrives (a store starts relaying other processes' events only when someone
    /// listens), `startFollowing` whenever ``followEndsEverywhere()`` begins following and
    /// `stopFollowing` whenever ``stopFollowingEnds()`` ends it.
    public init(firstSubscribed: @escaping @Sendable (StoreEvents) -> Void,
                startFollowing: (@Sendable (StoreEvents) -> Void)? = nil, stopFollowing: (@Sendable () -> Void)? = nil) {
        self.firstSubscribed = firstSubscribed
        self.startFollowing = startFollowing
        self.stopFollowing = stopFollowing
    }

    /// Asks the store to announce, as `jobsFinished`, the end of every job that reaches a
    /// terminal state from now on, whichever process sharing the store recorded it: what pushes
    /// "done" to a browser whose job ran in a separate worker. A job may then be announced
    /// twice (by this instance and by the relay); a store used by one process only does nothing.
    /// Following costs the store work at every commit burst: stop when nobody needs it.
    public func followEndsEverywhere() {
        let first = subscribers.withLock { state in
            defer { state.following = true }
            return !state.following
        }
        if first { startFollowing?(self) }
    }

    /// Stops what ``followEndsEverywhere()`` started.
    public func stopFollowingEnds() {
        let was = subscribers.withLock { state in
            defer { state.following = false }
            return state.following
        }
        if was { stopFollowing?() }
    }

    /// Whether ``followEndsEverywhere()`` was called.
    public var followsEndsEverywhere: Bool { subscribers.withLock { $0.following } }

    /// A stream of every event of `kinds` published after this call; it keeps the newest `buffer`
    /// events when the reader falls behind. Cancel the iterating task to unsubscribe.
    ///
    /// Each event delivered wakes the reader's task: a subscriber that ignores most kinds
    /// should name the ones it reads, so that a busy store does not wake it for nothing.
    public func subscribe(buffer: Int = 1024, to kinds: Set<StoreEvent.Kind> = Set(StoreEvent.Kind.allCases)) -> AsyncStream<StoreEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: StoreEvent.self, bufferingPolicy: .bufferingNewest(buffer))
        let (key, first) = subscribers.withLock { state in
            state.next += 1
            state.continuations[state.next] = (kinds, continuation)
            defer { state.subscribed = true }
            return (state.next, !state.subscribed)
        }
        if first { firstSubscribed?(self) }
        continuation.onTermination = { [weak self] _ in
            self?.subscribers.withLock { _ = $0.continuations.removeValue(forKey: key) }
        }
        return stream
    }

    /// Whether anyone listens; stores skip building events when nobody does.
    public var hasSubscribers: Bool { subscribers.withLock { !$0.continuations.isEmpty } }

    /// Whether anyone listens to events of `kind`.
    public func hasSubscribers(to kind: StoreEvent.Kind) -> Bool {
        subscribers.withLock { $0.continuations.values.contains { $0.kinds.contains(kind) } }
    }

    /// Delivers `event` to every subscriber of its kind.
    public func publish(_ event: StoreEvent) {
        let kind = event.kind
        let targets = subscribers.withLock { $0.continuations.values.compactMap { $0.kinds.contains(kind) ? $0.continuation : nil } }
        for continuation in targets { continuation.yield(event) }
    }
}

extension StoreEvents {
    /// Announces rescued jobs: their new states, and the queues that have jobs to run again.
    public func publishRescued(_ rescued: [Job]) {
        guard !rescued.isEmpty else { return }
        publish(.jobsFinished(Dictionary(rescued.map { ($0.id, $0.state) }, uniquingKeysWith: { $1 })))
        publish(.jobsAvailable(queues: Array(Set(rescued.map(\.queue))).sorted()))
    }
}
