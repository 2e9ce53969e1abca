import Foundation
import Hummingbird
import SpoolCore
import SpoolReplication

/// `/v1/dispatchers` and `/v1/stats`.
extension SpoolAPI {
    func addOverviewRoutes(to routes: Routes) {
        routes.get("/v1/dispatchers") { _, _ in
            JSONBody.response(["dispatchers": try await store.dispatchers().map(DispatcherDocument.init)])
        }
        routes.get("/v1/stats") { _, _ in JSONBody.response(try await stats()) }
    }

    /// `GET /v1/stats`: store-wide totals in one small document.
    struct Stats: Encodable {
        /// Jobs per state across every queue; every state is present.
        var jobs: [String: Int]
        /// How many queues exist, and how many of them are paused.
        var queues: Int
        var pausedQueues: Int
        /// How many quotas exist, and how many are filled.
        var quotas: Int
        var filledQuotas: Int
        /// Dispatchers per recorded state, and how many pinged within the dead-after time.
        var dispatchers: [String: Int]
        var liveDispatchers: Int
        /// Clients of `/v1/events` now.
        var eventClients: Int
        /// When the figures were read.
        var at: String
        /// The destination `POST /v1/mirror/units` publishes to, when the server has one.
        var mirror: MirrorBacklog?
        /// How the store's replication stands, when it is replicated.
        var replication: ReplicationStatus?
    }

    /// What waits on the mirror's destination: units, units being applied, dead letters, and
    /// how long the oldest waiting unit has waited (the mirror's lag) where the transport tells.
    struct MirrorBacklog: Encodable {
        var destination: String
        var waiting: Int
        var inFlight: Int?
        var deadLetters: Int
        var oldestWaitingSeconds: Double?
    }

    func stats() async throws -> Stats {
        let now = Date()
        async let queues = store.queues()
        async let quotas = store.quotas()
        async let dispatchers = store.dispatchers()
        let (queueList, quotaList, dispatcherList) = try await (queues, quotas, dispatchers)
        var jobs = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })
        for queue in queueList { for (state, count) in queue.counts { jobs[state.rawValue, default: 0] += count } }
        var byState = Dictionary(uniqueKeysWithValues: [DispatcherState.active, .inactive, .dead].map { ($0.rawValue, 0) })
        for dispatcher in dispatcherList { byState[dispatcher.state.rawValue, default: 0] += 1 }
        return Stats(jobs: jobs, queues: queueList.count, pausedQueues: queueList.filter(\.paused).count,
                     quotas: quotaList.count, filledQuotas: quotaList.filter(\.filled).count, dispatchers: byState,
                     liveDispatchers: StatusCheck.live(dispatcherList, now: now, deadAfter: configuration.status.deadAfter).count,
                     eventClients: events.subscriberCount, at: ISO8601.format(now), mirror: try await mirrorBacklog(now: now),
                     replication: configuration.replicationStatus())
    }

    private func mirrorBacklog(now: Date) async throws -> MirrorBacklog? {
        guard let mirror = configuration.mirror else { return nil }
        let waiting = try await mirror.transport.backlog(of: mirror.destination)
        let dead = try await mirror.transport.backlog(of: mirror.transport.deadLetterDestination(for: mirror.destination))
        return MirrorBacklog(destination: mirror.destination, waiting: waiting.waiting, inFlight: waiting.inFlight,
                             deadLetters: dead.waiting + (dead.inFlight ?? 0),
                             oldestWaitingSeconds: waiting.oldestWaiting.map { max(0, now.timeIntervalSince($0)) })
    }
}
