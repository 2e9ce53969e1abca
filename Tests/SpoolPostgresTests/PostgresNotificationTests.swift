import Foundation
import SpoolCore
import SpoolPostgres
import SpoolTestSupport
import SpoolWorker
import Synchronization
import Testing

/// Two store instances on one schema stand for two processes: what one enqueues reaches the
/// other only through PostgreSQL's NOTIFY (or a poll).
@Suite("PostgreSQL wake-ups through LISTEN/NOTIFY", .enabled(if: PostgresServer.shouldRun))
struct PostgresNotificationTests {
    @Test("close() ends the store's listening connection and returns")
    func closeEndsTheListener() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let store = try await PostgresStore(url: url, maximumConnections: 2)
        _ = store.events.subscribe()
        _ = try await PostgresTestDatabase.waitForListener(schema: schema)
        _ = try await store.insert([NewJob(name: "spool.noop")], now: Date())
        await store.close()
        let deadline = ContinuousClock.now + .seconds(10)
        var listeners = try await PostgresTestDatabase.listenerPids(schema: schema)
        while !listeners.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            listeners = try await PostgresTestDatabase.listenerPids(schema: schema)
        }
        #expect(listeners.isEmpty, "no connection listens for the schema after close()")
    }

    @Test func anEnqueueInOneInstanceIsAnnouncedInAnother() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let producer = try await PostgresStore(url: url, maximumConnections: 2)
        let consumer = try await PostgresStore(url: url, maximumConnections: 2)
        let events = consumer.events.subscribe()
        _ = try await PostgresTestDatabase.waitForListener(schema: schema)
        _ = try await producer.insert([NewJob(name: "spool.noop", queue: "wake")], now: Date())
        let event = await firstEvent(in: events) { $0 == .jobsAvailable(queues: ["wake"]) }
        #expect(event != nil, "the other instance heard of the job in queue 'wake'")
    }

    @Test("enqueues into 20 queues at once, announced after their commits in merged notifications: another instance hears of every queue")
    func concurrentEnqueuesAreAllAnnounced() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let producer = try await PostgresStore(url: url, maximumConnections: 8)
        let consumer = try await PostgresStore(url: url, maximumConnections: 2)
        let events = consumer.events.subscribe()
        _ = try await PostgresTestDatabase.waitForListener(schema: schema)
        let queues = Set((0..<20).map { "wake-\($0)" })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for queue in queues {
                group.addTask { _ = try await producer.insert([NewJob(name: "spool.noop", queue: queue)], now: Date()) }
            }
            try await group.waitForAll()
        }
        let heard = Mutex(Set<String>())
        let all = await firstEvent(in: events) { event in
            guard case .jobsAvailable(let named) = event else { return false }
            return heard.withLock { $0.formUnion(named); return $0.isSuperset(of: queues) }
        }
        #expect(all != nil, "heard of \(heard.withLock { $0.intersection(queues).count }) of the 20 queues")
    }

    @Test func anIdleDispatcherWithALongPollStartsAJobEnqueuedElsewhere() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let producer = try await PostgresStore(url: url, maximumConnections: 2)
        let consumer = try await PostgresStore(url: url, maximumConnections: 4)
        try await withDispatcher(on: consumer) {
            _ = try await PostgresTestDatabase.waitForListener(schema: schema)
            for _ in 0..<3 {
                let job = try await producer.insert([NewJob(name: "spool.noop")], now: Date())[0].job
                #expect(try await waitForState(.completed, of: job.id, in: producer), "ran long before the 120 s poll")
            }
        }
    }

    @Test func aKilledListenerReconnectsAndAnnouncesWhatItMayHaveMissed() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let producer = try await PostgresStore(url: url, maximumConnections: 2)
        let consumer = try await PostgresStore(url: url, maximumConnections: 4)
        try await withDispatcher(on: consumer) {
            let first = try await PostgresTestDatabase.waitForListener(schema: schema)
            // Scheduled jobs send no NOTIFY when they fall due: only a wake-up or a poll finds this one.
            let due = Date().addingTimeInterval(1)
            let unannounced = try await producer.insert([NewJob(name: "spool.noop", runAt: due)], now: Date())[0].job
            while Date() <= due { try await Task.sleep(for: .milliseconds(50)) }
            let killed = try await PostgresTestDatabase.terminateListeners(schema: schema)
            #expect(killed == [first])
            let second = try await PostgresTestDatabase.waitForListener(schema: schema)
            #expect(second != first, "a new listening connection")
            #expect(try await waitForState(.completed, of: unannounced.id, in: producer),
                    "the wake-up after reconnecting ran the job that fell due unannounced")
            let announced = try await producer.insert([NewJob(name: "spool.noop")], now: Date())[0].job
            #expect(try await waitForState(.completed, of: announced.id, in: producer), "notifications arrive again")
        }
    }

    /// Runs a dispatcher on `store` that polls only every 120 s around `body`.
    private func withDispatcher(on store: PostgresStore, _ body: () async throws -> Void) async throws {
        let registry = JobRegistry()
        BuiltinJobs.register(into: registry)
        var configuration = DispatcherConfiguration(id: UUID())
        configuration.pollInterval = .seconds(120)
        configuration.gracePeriod = .seconds(5)
        let dispatcher = Dispatcher(store: store, registry: registry, configuration: configuration)
        let running = Task { try await dispatcher.run() }
        do {
            try await body()
        } catch {
            dispatcher.stop()
            _ = try? await running.value
            throw error
        }
        dispatcher.stop()
        try await running.value
    }
}

/// Waits up to 60 s (half the dispatchers' poll interval) for the job to reach `state`.
func waitForState(_ state: JobState, of id: JobID, in store: PostgresStore) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
        if try await store.job(id)?.state == state { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return false
}

/// The first event in `events` that `matches` does, or `nil` after 30 s.
func firstEvent(in events: AsyncStream<StoreEvent>, matching matches: @escaping @Sendable (StoreEvent) -> Bool) async -> StoreEvent? {
    await withTaskGroup(of: StoreEvent?.self) { group in
        group.addTask {
            for await event in events where matches(event) { return event }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(30))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
