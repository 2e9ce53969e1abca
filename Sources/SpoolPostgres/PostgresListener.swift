import Foundation
import Logging
import PostgresNIO
import SpoolCore
import Synchronization

/// Relays a NOTIFY channel of the schema into a store's events: the new-jobs channel, so a
/// dispatcher in this process wakes within milliseconds when any process enqueues, retries,
/// releases or rescues a job; or the ends channel, so a server pushes the end of a job that
/// another process ran (``Role/ends``).
///
/// It holds one connection of its own (named by its role's application name) with `LISTEN` on
/// the channel. When that connection drops, it reconnects with backoff (50 ms doubling to 5 s)
/// and, once listening again, tells its role, since notifications sent while it was away are
/// lost: the new-jobs listener announces that jobs may be available in every queue (dispatchers
/// poll as well, so a lost notification delays a job by at most one poll interval).
final class PostgresListener: Sendable {
    /// What a listener listens for and what it makes of it.
    struct Role: Sendable {
        /// The connection's `application_name`.
        var applicationName: String
        /// What it listens on.
        var channel: String
        /// What it says of its work in log lines.
        var purpose: String
        /// Runs on the listening connection once listening, every time it (re)connects, and
        /// then every ``renewEvery`` while it stays connected.
        var renew: @Sendable (PostgresConnection) async throws -> Void = { _ in }
        /// How often ``renew`` runs again.
        var renewEvery: Duration = .seconds(20)
        /// Publishes what it learned from a notification's payload; `nil` on (re)connecting.
        var relay: @Sendable (String?, StoreEvents) -> Void
    }

    private let configuration: PostgresConnection.Configuration
    private let role: Role
    private let location: PostgresLocation
    private let logger: Logger
    private struct Tasks {
        var running: Task<Void, Never>?
        var stopping: [Task<Void, Never>] = []
    }

    private let task = Mutex(Tasks())
    private let connections = Atomic<Int>(0)

    init(configuration: PostgresConnection.Configuration, role: Role, location: PostgresLocation, logger: Logger) {
        var configuration = configuration
        configuration.options.additionalStartupParameters = [("application_name", role.applicationName)]
        self.configuration = configuration
        self.role = role
        self.location = location
        self.logger = logger
    }

    /// Starts relaying notifications to `events`; calls while it runs do nothing.
    func start(relayingTo events: StoreEvents) {
        task.withLock { tasks in
            guard tasks.running == nil else { return }
            tasks.running = Task { [self] in await run(relayingTo: events) }
        }
    }

    /// Stops listening and closes the connection; ``start(relayingTo:)`` may start it again.
    func stop() {
        task.withLock { tasks in
            tasks.running?.cancel()
            if let running = tasks.running { tasks.stopping.append(running) }
            tasks.running = nil
        }
    }

    /// Returns once every listening task this listener started has ended (after ``stop()``).
    func stopped() async {
        for stopping in task.withLock({ $0.stopping + ($0.running.map { [$0] } ?? []) }) { await stopping.value }
    }

    private func run(relayingTo events: StoreEvents) async {
        let initialDelay = Duration.milliseconds(50)
        var delay = initialDelay
        var failures = 0
        while !Task.isCancelled {
            do {
                let id = connections.add(1, ordering: .relaxed).newValue
                let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
                do {
                    try await connection.listen(on: role.channel) { [role] notifications in
                        try await role.renew(connection)
                        if failures > 0 { logger.info("listening for \(role.purpose) on \(location) again") }
                        failures = 0
                        delay = initialDelay
                        role.relay(nil, events)
                        let renewing = Task {
                            while !Task.isCancelled {
                                try await Task.sleep(for: role.renewEvery)
                                try await role.renew(connection)
                            }
                        }
                        defer { renewing.cancel() }
                        for try await notification in notifications { role.relay(notification.payload, events) }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                guard !Task.isCancelled else { return }
                failures += 1
                let message: Logger.Message = "listening for \(role.purpose) on \(location) failed: \(PostgresStore.translate(error, location: location)); reconnecting"
                if failures == 1 { logger.warning(message) } else { logger.debug(message) }
            }
            do {
                try await Task.sleep(for: delay)
            } catch {
                return
            }
            delay = min(delay * 2, .seconds(5))
        }
    }
}

extension PostgresListener.Role {
    /// Listens on the new-jobs channel: announces the queues that gained available jobs, and
    /// every queue on (re)connecting.
    static func newJobs(_ schema: PostgresSchema) -> Self {
        Self(applicationName: PostgresStore.listenerApplicationName, channel: schema.channel, purpose: "new jobs") { payload, events in
            events.publish(.jobsAvailable(queues: payload.map { $0.split(separator: "\n").map(String.init) } ?? []))
        }
    }

    /// Listens on the ends channel: announces the jobs that ended, and keeps a row of
    /// ``PostgresSchema/followers`` valid for a minute ahead, so that finishing processes send
    /// the notifications.
    static func ends(_ schema: PostgresSchema, logger: Logger) -> Self {
        let id = UUID()
        return Self(applicationName: PostgresStore.endListenerApplicationName, channel: schema.endsChannel, purpose: "ends of jobs",
                    renew: { connection in
                        let until = PostgresRows.micros(Date().addingTimeInterval(60))
                        try await connection.query("""
                            INSERT INTO \(unescaped: schema.followers) (id, until) VALUES (\(id), \(until))
                            ON CONFLICT (id) DO UPDATE SET until = excluded.until
                            """, logger: logger)
                        try await connection.query("DELETE FROM \(unescaped: schema.followers) WHERE until < \(PostgresRows.micros(Date()))",
                                                   logger: logger)
                    }) { payload, events in
            if let payload, let ended = PostgresStore.endedJobs(payload) { events.publish(.jobsFinished(ended)) }
        }
    }
}
