import Foundation
import SpoolCore

/// Brings the ends of jobs that any process sharing the store ran to `/v1/events`: while
/// clients listen, it has the store follow ends everywhere (`StoreEvents.followEndsEverywhere()`),
/// reads each ended job some client would receive and has not yet, and publishes its end.
///
/// As a safety net for ends no announcement brought (a PostgreSQL listener that was still
/// connecting, a notification lost while it reconnected), it also looks, every
/// ``recheckInterval``, at the jobs end-view clients still wait for.
struct EndRelay: Sendable {
    let store: any JobStore
    let events: ServerEvents
    /// How often jobs that end-view clients wait for are read again.
    var recheckInterval: Duration = .seconds(2)

    /// Relays until cancelled.
    func run() async {
        let storeEvents = store.events
        events.onActivity { active in
            if active { storeEvents.followEndsEverywhere() } else { storeEvents.stopFollowingEnds() }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await relayAnnouncements(storeEvents.subscribe(buffer: 4096, to: [.jobsFinished])) }
            group.addTask { await recheckAwaited() }
            await group.waitForAll()
        }
        storeEvents.stopFollowingEnds()
    }

    private func relayAnnouncements(_ announcements: AsyncStream<StoreEvent>) async {
        for await announcement in announcements {
            guard case .jobsFinished(let states) = announcement else { continue }
            await publishEnds(states.filter { $0.value.isTerminal && events.wantsEnd(of: $0.key, $0.value) }.map(\.key))
        }
    }

    private func recheckAwaited() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: recheckInterval)
            await publishEnds(Array(events.awaitedJobs))
        }
    }

    /// Reads `ids` (a few at a time) and publishes the end of each that ended.
    func publishEnds(_ ids: [JobID]) async {
        guard !ids.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            for (index, id) in ids.enumerated() {
                if index >= 8 { await group.next() }
                group.addTask {
                    guard let job = try? await store.job(id), job.state.isTerminal else { return }
                    events.publish(ServerEvent(ServerEvent.kind(ending: job), job: job))
                }
            }
        }
    }
}
