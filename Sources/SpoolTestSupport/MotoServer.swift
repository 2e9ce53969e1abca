import Foundation
import Synchronization

/// A private moto server (PyPI `moto[server]`), the SQS-compatible server of the tests, on a
/// random loopback port. One serves the whole test process; it is ended when the process exits.
/// It does not check signatures, but routes by the service named in the signature's scope.
///
/// ```swift
/// @Suite(.enabled(if: MotoServer.shouldRun))
/// struct QueueTests {
///     @Test func roundTrip() async throws {
///         let moto = try await MotoServer.start()
///         // endpoint: moto.endpoint, any credentials, region us-east-1
///     }
/// }
/// ```
public final class MotoServer: Sendable {
    /// The interpreter that runs moto: `SPOOL_PYTHON`, or `python3` on the PATH.
    public static let python = ProcessInfo.processInfo.environment["SPOOL_PYTHON"] ?? "python3"

    /// Whether the tests that need moto run: unless `SPOOL_SKIP_MOTO=1` says to skip them (a
    /// missing moto then fails them, naming how to install it).
    public static var shouldRun: Bool { ProcessInfo.processInfo.environment["SPOOL_SKIP_MOTO"] != "1" }

    /// The port on 127.0.0.1.
    public let port: Int
    private let process: ChildProcess
    private let log: String

    /// The server's URL, to use as the SQS endpoint.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, process: ChildProcess, log: String) {
        self.port = port
        self.process = process
        self.log = log
    }

    private static let shared = Mutex<Task<MotoServer, any Error>?>(nil)
    private static let running = Mutex<MotoServer?>(nil)
    private static let privateServers = Mutex<[MotoServer]>([])

    /// A server of its own, for a test whose timing must not depend on the load the other tests
    /// put on the shared one; it is ended at process exit.
    public static func startPrivate() async throws -> MotoServer {
        try await launch(shared: false)
    }

    /// The server shared by the test process, started on first use.
    public static func start() async throws -> MotoServer {
        let task = shared.withLock { task in
            if let task { return task }
            let started = Task { try await launch() }
            task = started
            return started
        }
        return try await task.value
    }

    private static func launch(shared: Bool = true) async throws -> MotoServer {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("spool-moto-\(UUID().uuidString).log").path
        let check = try await offPool { try ChildProcess.run("/usr/bin/env", [python, "-c", "import moto.server"]) }
        guard check.status == 0 else {
            throw ServerError("moto is not installed for \(python): run `pip install 'moto[server]'` (scripts/test does), or set SPOOL_SKIP_MOTO=1 to skip the SQS tests")
        }
        let port = try LoopbackSocket.freePort()
        let process = try ChildProcess.spawn("/usr/bin/env", [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", "\(port)"],
                                             environment: ProcessInfo.processInfo.environment, outputPath: log)
        let server = MotoServer(port: port, process: process, log: log)
        if shared {
            running.withLock { $0 = server }
            atexit { MotoServer.running.withLock { $0 }?.stop() }
        } else {
            let first = privateServers.withLock { servers in
                servers.append(server)
                return servers.count == 1
            }
            if first { atexit { for server in MotoServer.privateServers.withLock({ $0 }) { server.stop() } } }
        }
        try await LoopbackSocket.waitUntilAccepting(port: port, process: process, name: "moto (its log: \(log))")
        return server
    }

    /// Ends the server (SIGTERM, then SIGKILL after 5 s); called at process exit.
    public func stop() {
        process.terminate()
        for _ in 0..<50 where process.isRunning { usleep(100_000) }
        process.signal(SIGKILL)
        try? FileManager.default.removeItem(atPath: log)
    }
}
