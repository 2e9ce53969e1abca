import Foundation
import Synchronization

/// A private RabbitMQ node for integration tests: random loopback ports for AMQP, Erlang
/// distribution and epmd, and private HOME, mnesia, log, config and plugin files in a temporary
/// directory. One node serves the whole test process; it is shut down when the process exits, and
/// only its own processes (the node, found by PID, and its epmd, found by port) are ended.
///
/// ```swift
/// @Suite(.enabled(if: RabbitMQServer.shouldRun))
/// struct BrokerTests {
///     @Test func roundTrip() async throws {
///         let server = try await RabbitMQServer.start()
///         let connection = try await AMQPConnection.connect(url: server.url)
///     }
/// }
/// ```
///
/// The helper only runs processes and sockets, so it depends on no AMQP client: it knows the node
/// is ready when it answers the AMQP protocol header with a method frame.
public final class RabbitMQServer: Sendable {
    /// Where Debian's `rabbitmq-server` package installs the server scripts.
    public static let installation = "/usr/lib/rabbitmq/bin"

    /// Whether the integration tests should run: RabbitMQ is installed, or it is missing and the
    /// tests must fail because `SPOOL_SKIP_RABBITMQ=1` does not say to skip them.
    public static var shouldRun: Bool {
        FileManager.default.isExecutableFile(atPath: "\(installation)/rabbitmq-server")
            || ProcessInfo.processInfo.environment["SPOOL_SKIP_RABBITMQ"] != "1"
    }

    /// The node's AMQP port on 127.0.0.1.
    public let port: Int
    /// The port of the node's private epmd.
    public let epmdPort: Int
    /// The environment the node runs in; `rabbitmqctl` needs the same one to reach it.
    public let environment: [String: String]
    /// The node's private directory (HOME, mnesia, logs, `server.out`).
    public let directory: URL
    private let process: ChildProcess

    /// The AMQP URL of the node's default vhost as `guest`.
    public var url: String { "amqp://guest:guest@127.0.0.1:\(port)/%2f" }

    /// The AMQP URL of `virtualHost` as `guest`, after creating it (once per test process) with
    /// full permissions for `guest`.
    ///
    /// A vhost of its own keeps a suite apart from tests that break the default vhost's connections
    /// (`rabbitmqctl close_all_connections` reaches only the default vhost).
    public func url(virtualHost: String) async throws -> String {
        let task = virtualHosts.withLock { hosts in
            if let task = hosts[virtualHost] { return task }
            let created = Task {
                try await self.rabbitmqctl("add_vhost", virtualHost)
                try await self.rabbitmqctl("set_permissions", "-p", virtualHost, "guest", ".*", ".*", ".*")
            }
            hosts[virtualHost] = created
            return created
        }
        try await task.value
        let encoded = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost
        return "amqp://guest:guest@127.0.0.1:\(port)/\(encoded)"
    }

    private let virtualHosts = Mutex<[String: Task<Void, any Error>]>([:])
    private static let shared = Mutex<Task<RabbitMQServer, any Error>?>(nil)
    private static let running = Mutex<RabbitMQServer?>(nil)

    /// The node shared by the test process, started on first use.
    public static func start() async throws -> RabbitMQServer {
        let task = shared.withLock { task in
            if let task { return task }
            let started = Task { try await RabbitMQServer.launch() }
            task = started
            return started
        }
        return try await task.value
    }

    /// The loopback port of the shared node's TLS listener (`amqps://localhost:PORT`), whose
    /// certificate, for `localhost`, chains to ``tlsCAFile``; `nil` on private nodes.
    public let tlsPort: Int?
    /// The CA certificate (PEM) behind the TLS listener's certificate.
    public let tlsCAFile: String?

    private init(port: Int, tls: (port: Int, caFile: String)? = nil, epmdPort: Int, environment: [String: String], directory: URL,
                 process: ChildProcess) {
        self.port = port
        self.tlsPort = tls?.port
        self.tlsCAFile = tls?.caFile
        self.epmdPort = epmdPort
        self.environment = environment
        self.directory = directory
        self.process = process
    }

    /// A node of its own, for a test that stops or restarts the broker; stop it with ``stop()``
    /// (it is stopped at process exit too).
    public static func startPrivate() async throws -> RabbitMQServer {
        try await launch(shared: false)
    }


    /// Restarts the RabbitMQ application on the node (as a broker restart does): connections
    /// break, durable queues and persistent messages stay, transient ones are gone.
    public func restartApplication() async throws {
        try await rabbitmqctl("stop_app")
        try await rabbitmqctl("start_app")
        try await waitUntilReady()
    }

    private static let privateNodes = Mutex<[RabbitMQServer]>([])
    /// The shared node's certificates, kept (their directory with them) while the process runs.
    private static let sharedCertificates = Mutex<TestCertificates?>(nil)
    private let stopped = Atomic<Bool>(false)

    /// Starts a node; one that exits while starting (a port it was given was taken meanwhile by
    /// another of the tests' servers) is started again on other ports, up to three times.
    private static func launch(shared: Bool = true) async throws -> RabbitMQServer {
        var attempt = 1
        while true {
            do {
                return try await launchOnce(shared: shared)
            } catch let error as NodeExited where attempt < 3 {
                FileHandle.standardError.write(Data("RabbitMQ test node exited while starting (\(error.output.suffix(300))); starting another\n".utf8))
                attempt += 1
            }
        }
    }

    /// A node that exited during start, with the end of what it printed.
    private struct NodeExited: Error, CustomStringConvertible {
        let output: String
        var description: String { "rabbitmq-server exited during start: \(output.suffix(2000))" }
    }

    /// The shared node listens for TLS too, with a certificate from a CA of its own: a test of
    /// `amqps://` needs no second node starting beside it.
    private static func launchOnce(shared: Bool) async throws -> RabbitMQServer {
        let executable = "\(installation)/rabbitmq-server"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ServerError("RabbitMQ is not installed (\(executable) is missing): install Debian's rabbitmq-server, or set SPOOL_SKIP_RABBITMQ=1 to skip these tests")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-rabbitmq-\(UUID().uuidString)")
        for sub in ["home", "mnesia", "log"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try "[].".write(to: directory.appendingPathComponent("enabled_plugins"), atomically: true, encoding: .utf8)
        let ports = try (0..<5).map { _ in try LoopbackSocket.freePort() }
        let (port, distPort, epmdPort, controlPort) = (ports[0], ports[1], ports[2], ports[3])
        var tls: (port: Int, caFile: String)?
        var configuration = ""
        if shared {
            let certificates = try await offPool { try TestCertificates() }
            let files = try await offPool { try certificates.server("localhost") }
            tls = (ports[4], certificates.caFile)
            configuration = """
                listeners.ssl.1 = 127.0.0.1:\(ports[4])
                ssl_options.cacertfile = \(certificates.caFile)
                ssl_options.certfile = \(files.certificate)
                ssl_options.keyfile = \(files.key)
                ssl_options.verify = verify_none
                ssl_options.fail_if_no_peer_cert = false

                """
            sharedCertificates.withLock { $0 = certificates }
        }
        try configuration.write(to: directory.appendingPathComponent("rabbitmq.conf"), atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        let path = directory.path
        environment.merge([
            "HOME": "\(path)/home",
            "RABBITMQ_NODENAME": "spooltest\(ProcessInfo.processInfo.processIdentifier)x\(port)@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": "\(port)",
            "RABBITMQ_DIST_PORT": "\(distPort)",
            "ERL_EPMD_PORT": "\(epmdPort)",
            "RABBITMQ_CTL_DIST_PORT_MIN": "\(controlPort)",
            "RABBITMQ_CTL_DIST_PORT_MAX": "\(controlPort)",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": "\(path)/mnesia",
            "RABBITMQ_LOG_BASE": "\(path)/log",
            "RABBITMQ_ENABLED_PLUGINS_FILE": "\(path)/enabled_plugins",
            "RABBITMQ_CONFIG_FILE": "\(path)/rabbitmq.conf",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        ]) { _, new in new }
        let process = try ChildProcess.spawn(executable, [], environment: environment, outputPath: "\(path)/server.out")
        let server = RabbitMQServer(port: port, tls: tls, epmdPort: epmdPort, environment: environment, directory: directory,
                                    process: process)
        do {
            try await server.waitUntilReady()
        } catch {
            server.stop()
            throw error
        }
        if shared {
            running.withLock { $0 = server }
            atexit { RabbitMQServer.running.withLock { $0 }?.stop() }
        } else {
            let first = privateNodes.withLock { nodes in
                nodes.append(server)
                return nodes.count == 1
            }
            if first { atexit { for node in RabbitMQServer.privateNodes.withLock({ $0 }) { node.stop() } } }
        }
        return server
    }

    /// Polls the AMQP port until the node answers the protocol header (a node boots in about 5–10 s here).
    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw NodeExited(output: (try? String(contentsOf: directory.appendingPathComponent("server.out"), encoding: .utf8)) ?? "")
            }
            let port = port
            if (try? await offPool({ LoopbackSocket.answersAMQP(port: port) })) == true { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ServerError("RabbitMQ did not accept connections within 90 s; see \(directory.path)/server.out")
    }

    /// Runs `rabbitmqctl` against this node and returns its output.
    @discardableResult
    public func rabbitmqctl(_ arguments: String...) async throws -> String {
        let outputPath = directory.appendingPathComponent("rabbitmqctl-\(UUID().uuidString).out").path
        let control = try ChildProcess.spawn("\(Self.installation)/rabbitmqctl", arguments, environment: environment,
                                             outputPath: outputPath)
        // rabbitmqctl waits as long as the node takes to answer: bounded, so that a node that
        // stopped answering fails the test that asked instead of hanging the run.
        let status = await control.waitForExit(within: .seconds(120))
        if status == nil { control.signal(SIGKILL) }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard let status else { throw ServerError("rabbitmqctl \(arguments) did not finish within 120 s: \(output)") }
        guard status == 0 else { throw ServerError("rabbitmqctl \(arguments) failed (\(status)): \(output)") }
        return output
    }

    /// Shuts the node down and ends its private epmd; called at process exit.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let outputPath = directory.appendingPathComponent("shutdown.out").path
        // Bounded: this runs at process exit, where a shutdown that never returns would keep the
        // test run from ending (and its last output from being written).
        if let control = try? ChildProcess.spawn("\(Self.installation)/rabbitmqctl", ["shutdown", "--timeout", "30"],
                                                 environment: environment, outputPath: outputPath),
           control.waitForExitBlocking(within: .seconds(45)) == nil {
            control.signal(SIGKILL)
            for pid in LoopbackSocket.pids(listeningOn: port) { kill(pid, SIGKILL) }
        }
        process.signal(SIGTERM)
        for pid in LoopbackSocket.pids(listeningOn: epmdPort) { kill(pid, SIGTERM) }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Why a throwaway test server could not be started or used.
public struct ServerError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    /// Creates an error with its explanation.
    public init(_ description: String) { self.description = description }
}
