import Foundation
import Logging
import ServiceLifecycle
import SpoolCore
import SpoolServer
import SpoolWorker

/// The `spool serve` of a `spool bench --http` run: a server in this process on a free
/// loopback port over the workload's store, with a random token as a deployment would have.
final class BenchServer: Sendable {
    let server: SpoolServer
    let port: Int
    let token: String
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(server: SpoolServer, port: Int, token: String, group: ServiceGroup, running: Task<Void, any Error>) {
        self.server = server
        self.port = port
        self.token = token
        self.group = group
        self.running = running
    }

    /// Starts the server and returns once it listens.
    static func start(store: any JobStore) async throws -> BenchServer {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.token = UUID().uuidString
        let server = SpoolServer(store: store, configuration: configuration)
        let group = ServiceGroup(services: [server], logger: Logger(label: "spool.bench"))
        let running = Task { try await group.run() }
        guard let port = await server.port() else {
            running.cancel()
            throw BenchFailure("the HTTP server of the bench did not start")
        }
        return BenchServer(server: server, port: port, token: configuration.token!, group: group, running: running)
    }

    /// A new keep-alive connection to the server.
    func connect() async throws -> BenchHTTPConnection {
        try await BenchHTTPConnection.connect(host: "127.0.0.1", port: port, token: token)
    }

    /// Feeds a dispatcher's events to the server, as `spool serve` does for its own worker.
    func observing(_ observer: @escaping DispatcherObserver) -> DispatcherObserver {
        let events = server.events.observer
        return { event in
            events(event)
            observer(event)
        }
    }

    /// Stops the server gracefully and waits for it.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }
}
