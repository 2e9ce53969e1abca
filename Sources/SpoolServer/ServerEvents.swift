import Foundation
import SpoolCore
import SpoolWorker
import Synchronization

/// The server's event hub: API actions and the embedded dispatcher publish here, and every
/// `/v1/events` client receives what its filter admits.
///
/// Events of other processes sharing the store (separate workers, CLI commands) do not pass
/// through it; clients see those in the counts and lists they fetch.
public final class ServerEvents: Sendable {
    private struct Subscribers {
        var next = 0
        var all: [Int: EventSubscriber] = [:]
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

    /// Delivers `event` to every subscriber whose filter admits it; encodes it once.
    public func publish(_ event: ServerEvent) {
        let targets = subscribers.withLock { Array($0.all.values) }.filter { $0.filter.admits(event) }
        guard !targets.isEmpty else { return }
        let text = String(decoding: JSONBody.encode(event), as: UTF8.self)
        for target in targets { target.offer(text) }
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

    /// Adds a subscriber with a buffer of `capacity` events; `onOverflow` runs when it is cut
    /// off for having taken nothing for `lagLimit` while its events were being dropped.
    func subscribe(_ filter: EventFilter, capacity: Int, lagLimit: Duration, onOverflow: @escaping @Sendable () -> Void) -> (Int, EventSubscriber) {
        let subscriber = EventSubscriber(filter: filter, capacity: capacity, lagLimit: lagLimit) { [weak self] in
            self?.cutOff.add(1, ordering: .relaxed)
            onOverflow()
        }
        let key = subscribers.withLock { state in
            state.next += 1
            state.all[state.next] = subscriber
            return state.next
        }
        return (key, subscriber)
    }

    /// Removes a subscriber and ends its stream.
    func unsubscribe(_ key: Int) {
        subscribers.withLock { $0.all.removeValue(forKey: key) }?.close()
    }
}
