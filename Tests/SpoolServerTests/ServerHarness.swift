import Foundation
import Logging
import ServiceLifecycle
import SpoolCore
import SpoolServer
import SpoolSQLite
import SpoolTestSupport
import SpoolWorker

/// A real server on a random loopback port over a real SQLite file, with an embedded
/// dispatcher unless told otherwise, run in a service group as `spool serve` runs it.
final class ServerHarness: Sendable {
    let directory: TemporaryDirectory
    let store: SQLiteStore
    let server: SpoolServer
    let port: Int
    let token: String?
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(directory: TemporaryDirectory, store: SQLiteStore, server: SpoolServer, port: Int, token: String?,
                 group: ServiceGroup, running: Task<Void, any Error>) {
        self.directory = directory
        self.store = store
        self.server = server
        self.port = port
        self.token = token
        self.group = group
        self.running = running
    }

    static func start(worker: Bool = true, token: String? = nil, transports: Bool = false,
                      configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> ServerHarness {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("spool.db"))
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.token = token
        configuration.status.probeTimeout = .seconds(30)
        configure(&configuration)
        let named = transports ? [StatusCheck.NamedTransport(name: "table-queue", transport: TableQueue(store: store))] : []
        let server = SpoolServer(store: store, configuration: configuration, transports: named)
        var services: [any Service] = []
        if worker {
            let registry = JobRegistry()
            BuiltinJobs.register(into: registry)
            var dispatcherConfiguration = DispatcherConfiguration(id: UUID())
            dispatcherConfiguration.agents = [AgentSpec(name: AgentSpec.mainName, size: 4)]
            dispatcherConfiguration.pollInterval = .milliseconds(50)
            dispatcherConfiguration.backoff = Backoff(base: .milliseconds(100), maximum: .milliseconds(200), jitter: 0)
            dispatcherConfiguration.gracePeriod = .seconds(1)
            services.append(Dispatcher(store: store, registry: registry, configuration: dispatcherConfiguration,
                                       observer: server.events.observer, metrics: server.metrics.factory))
        }
        services.append(server)
        let group = ServiceGroup(services: services, logger: Logger(label: "spool.test"))
        let running = Task { try await group.run() }
        guard let port = await server.port() else {
            running.cancel()
            throw ServerError("the server did not start")
        }
        return ServerHarness(directory: directory, store: store, server: server, port: port, token: token, group: group, running: running)
    }

    /// Shuts the server and its dispatcher down gracefully and waits for them.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }

    /// A request with the harness's token, if any.
    func request(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws -> HTTPTestResponse {
        var headers = headers
        if let token, headers["Authorization"] == nil { headers["Authorization"] = "Bearer \(token)" }
        return try await HTTPTestClient.request(port: port, method, path, headers: headers, body: body)
    }

    /// Enqueues one job through the API and returns it.
    func enqueue(_ body: String) async throws -> Job {
        let response = try await request("POST", "/v1/jobs", body: body)
        guard response.status == 201 else { throw ServerError("enqueue answered \(response.status): \(response.text)") }
        return try response.decode(Job.self)
    }
}

/// Runs `body` against a fresh server and always stops it.
func withServer<T>(worker: Bool = true, token: String? = nil, transports: Bool = false,
                   configure: (inout ServerConfiguration) -> Void = { _ in },
                   _ body: (ServerHarness) async throws -> T) async throws -> T {
    let harness = try await ServerHarness.start(worker: worker, token: token, transports: transports, configure: configure)
    do {
        let result = try await body(harness)
        await harness.stop()
        return result
    } catch {
        await harness.stop()
        throw error
    }
}
