import Foundation
import SpoolCore
import SpoolWorker
import Synchronization

/// The server's event hub: API actions, the embedded dispatcher and the ``EndRelay`` (the ends
/// of jobs any process sharing the store ran) publish here, and every `/v1/events` client
/// receives what its filter admits.
///
/// The end of a job can reach the hub twice (from this process's dispatcher and from the
/// store's relay of every process's ends); the hub publishes a job's end in a state once within
/// ``RecentEnds/window``.
public final class ServerEvents: Sendable {
    private struct Subscribers {
        var next = 0
        var all: [Int: EventSubscriber] = [:]
        var recentEnds = RecentEnds()
        var held = HeldEvents()
        var onActivity: (@Sendable (Bool) -> Void)?
    }

    private let subscribers = Mutex(Subscribers())
    private let cutOff = Atomic<Int>(0)

    /// Creates a hub without subscribers.
    public init() {}

    /// The observer to give the embedded dispatcher: it publishes the dispatcher's events.
    public var observer: DispatcherObserver {
        { [self] event in
            if let event = ServerEvent(event) { publish(event) }
        }
    }

    /// Delivers `event` to every subscriber whose filter admits it; encodes it once per view. The
    /// end of a job already published within the window is dropped. While a change announced by
    /// ``announcing(_:jobs:_:)`` is under way, the event waits for its announcement.
    public func publish(_ event: ServerEvent) {
        deliver(event, holding: true)
    }

    /// Runs `change`, a store write that lets jobs run, and publishes one event of `kind` for each
    /// job `jobs` picks from its result; events published meanwhile wait until then, so that a
    /// client hears of a job enqueued (or retried) before it hears the job start.
    func announcing<Result>(_ kind: ServerEvent.Kind, jobs: (Result) -> [Job], _ change: () async throws -> Result) async throws -> Result {
        let token = subscribers.withLock { $0.held.begin() }
        var announced: [Job] = []
        defer {
            if !announced.isEmpty, hasSubscribers {
                let now = Date()
                for job in announced { deliver(ServerEvent(kind, at: now, job: job), holding: false) }
            }
            for event in subscribers.withLock({ $0.held.end(token) }) { deliver(event, holding: false) }
        }
        let result = try await change()
        announced = jobs(result)
        return result
    }

    private func deliver(_ event: ServerEvent, holding: Bool) {
        let ended = event.endedJob
        let now = ContinuousClock.now
        let targets: [EventSubscriber]? = subscribers.withLock { state in
            // Without clients nothing is remembered: the embedded dispatcher's every end passes here.
            guard !state.all.isEmpty else { return nil }
            if holding, state.held.hold(event) { return nil }
            if let ended, !state.recentEnds.insert(ended.id, ended.state, now: now) { return nil }
            return state.all.values.filter { $0.filter.admits(event) && ($0.view == .full || ended != nil) }
        }
        guard let targets, !targets.isEmpty else { return }
        var full: String?
        var push: String?
        for target in targets {
            switch target.view {
            case .full:
                full = full ?? String(decoding: JSONBody.encode(event), as: UTF8.self)
                target.offer(full!)
            case .end:
                push = push ?? ended.map(ServerEvent.endText)
                if let push { target.offer(push) }
            }
        }
    }

    /// Publishes one event of `kind` per job.
    func publish(_ kind: ServerEvent.Kind, jobs: [Job]) {
        guard hasSubscribers else { return }
        let now = Date()
        for job in jobs { publish(ServerEvent(kind, at: now, job: job)) }
    }

    /// How many clients listen now.
    public var subscriberCount: Int { subscribers.withLock { $0.all.count } }

    /// How many clients were cut off for falling behind, since start.
    public var cutOffCount: Int { cutOff.load(ordering: .relaxed) }

    var hasSubscribers: Bool { subscribers.withLock { !$0.all.isEmpty } }

    /// Whether some client would receive the end of job `id` in `state` that was not yet
    /// published: what the ``EndRelay`` asks before it reads the job.
    func wantsEnd(of id: JobID, _ state: JobState) -> Bool {
        let now = ContinuousClock.now
        return subscribers.withLock { subscribers in
            !subscribers.recentEnds.contains(id, state, now: now)
                && subscribers.all.values.contains { $0.filter.job == nil || $0.filter.job == id }
        }
    }

    /// The jobs end-view clients wait for that have not yet been sent their end.
    var awaitedJobs: Set<JobID> {
        subscribers.withLock { Set($0.all.values.filter { $0.view == .end && !$0.hasReceived }.compactMap(\.filter.job)) }
    }

    /// Calls `activity` with `true` when the first client subscribes and with `false` when the
    /// last leaves (and at once with whether clients listen now).
    func onActivity(_ activity: @escaping @Sendable (Bool) -> Void) {
        let active = subscribers.withLock { state in
            state.onActivity = activity
            return !state.all.isEmpty
        }
        activity(active)
    }

    /// Adds a subscriber with a buffer of `capacity` events; `onOverflow` runs when it is cut
    /// off for having taken nothing for `lagLimit` while its events were being dropped.
    func subscribe(_ filter: EventFilter, view: EventSubscriber.View = .full, capacity: Int, lagLimit: Duration,
                   onOverflow: @escaping @Sendable () -> Void) -> (Int, EventSubscriber) {
        let subscriber = EventSubscriber(filter: filter, view: view, capacity: capacity, lagLimit: lagLimit) { [weak self] in
            self?.cutOff.add(1, ordering: .relaxed)
            onOverflow()
        }
        let (key, activity) = subscribers.withLock { state in
            state.next += 1
            state.all[state.next] = subscriber
            return (state.next, state.all.count == 1 ? state.onActivity : nil)
        }
        activity?(true)
        return (key, subscriber)
    }

    /// Removes a subscriber and ends its stream.
    func unsubscribe(_ key: Int) {
        let (subscriber, activity) = subscribers.withLock { state in
            let removed = state.all.removeValue(forKey: key)
            return (removed, removed != nil && state.all.isEmpty ? state.onActivity : nil)
        }
        subscriber?.close()
        activity?(false)
    }
}

/// The job ends a hub published lately, so that an end reaching it twice is published once.
struct RecentEnds {
    /// How long an end is remembered.
    static let window: Duration = .seconds(10)
    /// How many ends are remembered at most; the oldest are forgotten first.
    static let capacity = 65_536

    private var seen: [JobID: (state: JobState, at: ContinuousClock.Instant)] = [:]
    private var order: [(id: JobID, state: JobState, at: ContinuousClock.Instant)] = []
    private var head = 0

    /// Whether the end of `id` in `state` was published within the window.
    func contains(_ id: JobID, _ state: JobState, now: ContinuousClock.Instant) -> Bool {
        guard let entry = seen[id] else { return false }
        return entry.state == state && now - entry.at < RecentEnds.window
    }

    /// Remembers the end of `id` in `state`; `false` when it was already remembered.
    mutating func insert(_ id: JobID, _ state: JobState, now: ContinuousClock.Instant) -> Bool {
        forget(before: now - RecentEnds.window)
        guard !contains(id, state, now: now) else { return false }
        seen[id] = (state, now)
        order.append((id, state, now))
        if order.count - head > RecentEnds.capacity { forgetOldest() }
        return true
    }

    private mutating func forget(before cutoff: ContinuousClock.Instant) {
        while head < order.count, order[head].at < cutoff { forgetOldest() }
    }

    private mutating func forgetOldest() {
        let oldest = order[head]
        if let entry = seen[oldest.id], entry.state == oldest.state, entry.at == oldest.at { seen[oldest.id] = nil }
        head += 1
        if head >= 4096, head * 2 >= order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
