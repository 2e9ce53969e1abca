import Foundation
import SpoolCore

/// The self-test behind `GET /status` and `spool status`: is the store reachable and writable,
/// are its migrations current, is a dispatcher alive, does a probe job make the round trip, and
/// does each configured transport carry a message.
public struct StatusCheck: Sendable {
    /// What the self-test uses.
    public struct Configuration: Sendable {
        /// A dispatcher silent longer than this does not count as live.
        public var deadAfter: Duration = .seconds(10)
        /// How long to wait for a dispatcher to run the probe job.
        public var probeTimeout: Duration = .seconds(10)
        /// The queue the probe job waits in; some dispatcher must serve it.
        public var probeQueue = NewJob.defaultQueue
        /// Why no probe job may be enqueued (a read-only copy of a store); the probe part then
        /// says so and passes.
        public var probeRefused: String?
        /// Parts checked after the others, such as replication (`nil` leaves a part out).
        public var additionalParts: [@Sendable () async -> Part?] = []

        /// Creates the defaults: 10 s, 10 s, the default queue.
        public init() {}
    }

    /// A transport to check, by name.
    public struct NamedTransport: Sendable {
        /// The name the report shows (`transport:<name>`).
        public var name: String
        /// Gives the transport to check, and whether the check closes it after.
        let open: @Sendable () async throws -> (transport: any Transport, closeAfter: Bool)

        /// Names a transport that every check uses and none closes.
        public init(name: String, transport: any Transport) {
            self.name = name
            self.open = { (transport, false) }
        }

        /// Names a transport that each check opens with `opening` and closes after, so one
        /// that cannot be reached (a broker that is down, SQS without credentials) is a failing
        /// part with its reason.
        public init(name: String, opening: @escaping @Sendable () async throws -> any Transport) {
            self.name = name
            self.open = { (try await opening(), true) }
        }
    }

    /// One checked part: `{"name", "ok", "detail", "milliseconds"}`.
    public struct Part: Codable, Sendable, Hashable {
        /// `store`, `migrations`, `dispatchers`, `probe`, `transport:<name>`, or an additional
        /// part's name (`replication`).
        public var name: String
        /// Whether the part works.
        public var ok: Bool
        /// What was found, or why it fails.
        public var detail: String
        /// How long the check took.
        public var milliseconds: Double

        /// A part.
        public init(name: String, ok: Bool, detail: String, milliseconds: Double) {
            self.name = name
            self.ok = ok
            self.detail = detail
            self.milliseconds = milliseconds
        }
    }

    /// The whole report: `{"ok", "checkedAt", "failing": [names], "parts": [...]}`.
    public struct Report: Codable, Sendable {
        /// Whether every part works.
        public var ok: Bool
        /// When the check ran.
        public var checkedAt: String
        /// The names of the parts that fail.
        public var failing: [String]
        /// Every part, in the order checked.
        public var parts: [Part]
    }

    let store: any JobStore
    let configuration: Configuration
    let transports: [NamedTransport]

    /// A self-test of `store` and `transports`.
    public init(store: any JobStore, configuration: Configuration = Configuration(), transports: [NamedTransport] = []) {
        self.store = store
        self.configuration = configuration
        self.transports = transports
    }

    /// The dispatchers that are active and pinged within `deadAfter`.
    public static func live(_ dispatchers: [DispatcherInfo], now: Date, deadAfter: Duration) -> [DispatcherInfo] {
        dispatchers.filter { $0.state == .active && now.timeIntervalSince($0.lastPingAt) <= deadAfter.seconds }
    }

    /// Runs every check and reports.
    public func run() async -> Report {
        var parts: [Part] = []
        var queues: [QueueInfo] = []
        parts.append(await timed("store") {
            queues = try await store.queues()
            return (true, "reachable: \(queues.count) queues")
        })
        parts.append(await timed("migrations") {
            guard let versioned = store as? any SchemaVersioned else {
                return (true, "this store checks its schema when it opens")
            }
            let schema = try await versioned.schemaStatus()
            let missing = schema.known.filter { !schema.applied.contains($0) }
            let unknown = schema.applied.filter { !schema.known.contains($0) }
            if !unknown.isEmpty { return (false, "the store has migrations this server does not know (\(unknown.joined(separator: ", "))): upgrade spool") }
            if !missing.isEmpty { return (false, "migrations not applied: \(missing.joined(separator: ", "))") }
            return (true, "all \(schema.known.count) migrations applied")
        })
        var live = 0
        parts.append(await timed("dispatchers") {
            let all = try await store.dispatchers()
            live = StatusCheck.live(all, now: Date(), deadAfter: configuration.deadAfter).count
            guard live > 0 else {
                return (false, "no live dispatcher: none of \(all.count) known has pinged in the last \(Int(configuration.deadAfter.seconds)) s; start `spool worker` or `spool serve` without --no-worker")
            }
            return (true, "\(live) live of \(all.count) known")
        })
        let paused = queues.contains { $0.name == configuration.probeQueue && $0.paused }
        if let refused = configuration.probeRefused {
            parts.append(Part(name: "probe", ok: true, detail: "not run: \(refused)", milliseconds: 0))
        } else {
            parts.append(await timed("probe") { try await probe(live: live, probeQueuePaused: paused) })
        }
        for named in transports {
            parts.append(await timed("transport:\(named.name)") {
                let (transport, closeAfter) = try await named.open()
                let outcome: (Bool, String)
                do {
                    outcome = try await roundTrip(transport)
                } catch {
                    if closeAfter { try? await transport.close() }
                    throw error
                }
                if closeAfter { try? await transport.close() }
                return outcome
            })
        }
        for additional in configuration.additionalParts {
            if let part = await additional() { parts.append(part) }
        }
        let failing = parts.filter { !$0.ok }.map(\.name)
        return Report(ok: failing.isEmpty, checkedAt: ISO8601.format(Date()), failing: failing, parts: parts)
    }

    /// Enqueues a no-op job, waits for a dispatcher to run it, and deletes it again: the check
    /// leaves nothing in the user's queues (a probe still running when it gives up is cancelled,
    /// and stays until it ends). Without a live dispatcher nothing is enqueued.
    private func probe(live: Int, probeQueuePaused: Bool) async throws -> (Bool, String) {
        guard live > 0 else { return (false, "no probe job was enqueued: no live dispatcher would run it") }
        guard !probeQueuePaused else { return (false, "no probe job was enqueued: queue '\(configuration.probeQueue)' is paused") }
        let probe = NewJob(name: "spool.noop", payload: #"{"probe":true}"#, queue: configuration.probeQueue, tags: ["spool.status"], maxAttempts: 1)
        let job = try await store.insert([probe], now: Date())[0].job
        var client = SpoolClient(store: store)
        client.pollInterval = .milliseconds(50)
        do {
            let finished = try await client.wait(for: job.id, timeout: configuration.probeTimeout)
            _ = try? await store.delete([job.id])
            guard finished.state == .completed else { return (false, "probe job \(job.id) ended \(finished.state)") }
            return (true, "probe job \(job.id) ran in queue '\(configuration.probeQueue)'")
        } catch let error as SpoolError where error.code == .timedOut {
            _ = try? await store.cancel(job.id, now: Date())
            _ = try? await store.delete([job.id])
            return (false, "probe job \(job.id) was not run within \(Int(configuration.probeTimeout.seconds)) s: is a dispatcher serving queue '\(configuration.probeQueue)'?")
        }
    }

    /// The report when the store cannot even be opened: its one part, `store`, fails with `detail`.
    public static func unreachable(_ detail: String) -> Report {
        Report(ok: false, checkedAt: ISO8601.format(Date()), failing: ["store"],
               parts: [Part(name: "store", ok: false, detail: detail, milliseconds: 0)])
    }

    /// Publishes one message and receives it back.
    private func roundTrip(_ transport: any Transport) async throws -> (Bool, String) {
        let destination = "spool.status"
        let message = TransportMessage(headers: ["spool-status": "probe"], text: "probe")
        try await transport.publish(message, to: destination)
        let deadline = ContinuousClock.now + configuration.probeTimeout
        while ContinuousClock.now < deadline {
            for delivery in try await transport.receive(from: destination, limit: 16, wait: .seconds(1), visibility: .seconds(30)) {
                try await transport.acknowledge(delivery)
                if delivery.message.id == message.id { return (true, "a message made the round trip through '\(destination)'") }
            }
        }
        return (false, "the message published to '\(destination)' did not come back within \(Int(configuration.probeTimeout.seconds)) s")
    }

    private func timed(_ name: String, _ body: () async throws -> (Bool, String)) async -> Part {
        let start = ContinuousClock.now
        let (ok, detail): (Bool, String)
        do {
            (ok, detail) = try await body()
        } catch let error as SpoolError {
            (ok, detail) = (false, error.message)
        } catch {
            (ok, detail) = (false, "\(error)")
        }
        let elapsed = (ContinuousClock.now - start).seconds * 1000
        return Part(name: name, ok: ok, detail: detail, milliseconds: (elapsed * 1000).rounded() / 1000)
    }
}
