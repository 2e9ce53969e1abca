import Logging
import PostgresNIO
import SpoolCore
import Synchronization

/// Relays the schema's NOTIFY channel into a store's events, so a dispatcher in this process
/// wakes within milliseconds when any process enqueues, retries, releases or rescues a job.
///
/// It holds one connection of its own (``PostgresStore/listenerApplicationName``) with `LISTEN` on the
/// channel. When that connection drops, it reconnects with backoff (50 ms doubling to 5 s) and,
/// once listening again, announces that jobs may be available in every queue, since
/// notifications sent while it was away are lost. Dispatchers poll as well, so a lost
/// notification delays a job by at most one poll interval.
final class PostgresListener: Sendable {
    private let configuration: PostgresConnection.Configuration
    private let channel: String
    private let location: PostgresLocation
    private let logger: Logger
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let connections = Atomic<Int>(0)

    init(configuration: PostgresConnection.Configuration, channel: String, location: PostgresLocation, logger: Logger) {
        var configuration = configuration
        configuration.options.additionalStartupParameters = [("application_name", PostgresStore.listenerApplicationName)]
        self.configuration = configuration
        self.channel = channel
        self.location = location
        self.logger = logger
    }

    /// Starts relaying notifications to `events`; later calls do nothing.
    func start(relayingTo events: StoreEvents) {
        task.withLock { task in
            guard task == nil else { return }
            task = Task { [self] in await run(relayingTo: events) }
        }
    }

    /// Stops listening and closes the connection.
    func stop() {
        task.withLock { $0?.cancel() }
    }

    /// Returns once the listening task, if it ever started, has ended.
    func stopped() async {
        await task.withLock { $0 }?.value
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
                    try await connection.listen(on: channel) { notifications in
                        if failures > 0 { logger.info("listening for new jobs on \(location) again") }
                        failures = 0
                        delay = initialDelay
                        events.publish(.jobsAvailable(queues: []))
                        for try await notification in notifications {
                            events.publish(.jobsAvailable(queues: notification.payload.split(separator: "\n").map(String.init)))
                        }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                guard !Task.isCancelled else { return }
                failures += 1
                let message: Logger.Message = "listening for new jobs on \(location) failed: \(PostgresStore.translate(error, location: location)); polling until it reconnects"
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
