import AMQPClient
import Foundation
import Synchronization

/// A private RabbitMQ node for integration tests: random loopback ports for AMQP, Erlang
/// distribution and epmd, and private HOME, mnesia, log, config and plugin files in a temporary
/// directory. One node serves the whole test process; it is shut down when the process exits, and
/// only its own processes (the node, found by PID, and its epmd, found by port) are ended.
final class RabbitMQServer: Sendable {
    static let installation = "/usr/lib/rabbitmq/bin"

    /// Whether the integration tests should run: RabbitMQ is installed, or it is missing and the
    /// tests must fail because `SPOOL_SKIP_RABBITMQ=1` does not say to skip them.
    static var shouldRun: Bool {
        FileManager.default.isExecutableFile(atPath: "\(installation)/rabbitmq-server")
            || ProcessInfo.processInfo.environment["SPOOL_SKIP_RABBITMQ"] != "1"
    }

    let port: Int
    let epmdPort: Int
    let environment: [String: String]
    let directory: URL
    private let process: ChildProcess

    /// The AMQP URL of the node's default vhost as `guest`.
    var url: String { "amqp://guest:guest@127.0.0.1:\(port)/%2f" }

    private static let shared = Mutex<Task<RabbitMQServer, any Error>?>(nil)
    private static let running = Mutex<RabbitMQServer?>(nil)

    /// The node shared by the test process, started on first use.
    static func start() async throws -> RabbitMQServer {
        let task = shared.withLock { task in
            if let task { return task }
            let started = Task { try await RabbitMQServer.launch() }
            task = started
            return started
        }
        return try await task.value
    }

    private init(port: Int, epmdPort: Int, environment: [String: String], directory: URL, process: ChildProcess) {
        self.port = port
        self.epmdPort = epmdPort
        self.environment = environment
        self.directory = directory
        self.process = process
    }

    private static func launch() async throws -> RabbitMQServer {
        let executable = "\(installation)/rabbitmq-server"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ServerError("RabbitMQ is not installed (\(executable) is missing): install Debian's rabbitmq-server, or set SPOOL_SKIP_RABBITMQ=1 to skip these tests")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-rabbitmq-\(UUID().uuidString)")
        for sub in ["home", "mnesia", "log"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try "[].".write(to: directory.appendingPathComponent("enabled_plugins"), atomically: true, encoding: .utf8)
        try "".write(to: directory.appendingPathComponent("rabbitmq.conf"), atomically: true, encoding: .utf8)
        let (port, distPort, epmdPort, controlPort) = (try freePort(), try freePort(), try freePort(), try freePort())
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
        let server = RabbitMQServer(port: port, epmdPort: epmdPort, environment: environment, directory: directory,
                                    process: process)
        running.withLock { $0 = server }
        atexit { RabbitMQServer.running.withLock { $0 }?.stop() }
        try await server.waitUntilReady()
        return server
    }

    /// Polls an AMQP handshake until the node accepts it (a node boots in about 5–10 s here).
    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw ServerError("rabbitmq-server exited during start; see \(directory.path)/server.out")
            }
            var configuration = try AMQPConnectionConfiguration(url: url)
            configuration.recovery = .disabled
            configuration.connectTimeout = .seconds(2)
            if let connection = try? await AMQPConnection.connect(configuration: configuration) {
                try await connection.close()
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ServerError("RabbitMQ did not accept connections within 90 s; see \(directory.path)/server.out")
    }

    /// Runs `rabbitmqctl` against this node and returns its output.
    @discardableResult
    func rabbitmqctl(_ arguments: String...) async throws -> String {
        let outputPath = directory.appendingPathComponent("rabbitmqctl-\(UUID().uuidString).out").path
        let control = try ChildProcess.spawn("\(Self.installation)/rabbitmqctl", arguments, environment: environment,
                                             outputPath: outputPath)
        let status = await control.waitForExit()
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else { throw ServerError("rabbitmqctl \(arguments) failed (\(status)): \(output)") }
        return output
    }

    /// Shuts the node down and ends its private epmd; called at process exit.
    func stop() {
        let outputPath = directory.appendingPathComponent("shutdown.out").path
        if let control = try? ChildProcess.spawn("\(Self.installation)/rabbitmqctl", ["shutdown"],
                                                 environment: environment, outputPath: outputPath) {
            control.waitForExitBlocking()
        }
        if process.isRunning { kill(process.pid, SIGTERM) }
        for pid in Self.pids(listeningOn: epmdPort) { kill(pid, SIGTERM) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The PIDs of processes listening on a loopback TCP port, from `ss`.
    private static func pids(listeningOn port: Int) -> [pid_t] {
        let ss = Process()
        ss.executableURL = URL(fileURLWithPath: "/usr/bin/ss")
        ss.arguments = ["-ltnpH", "sport = :\(port)"]
        let pipe = Pipe()
        ss.standardOutput = pipe
        guard (try? ss.run()) != nil else { return [] }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        ss.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        var pids: Set<pid_t> = []
        for match in text.split(separator: "pid=").dropFirst() {
            if let pid = pid_t(match.prefix { $0.isNumber }) { pids.insert(pid) }
        }
        return Array(pids)
    }

    /// A free loopback port, found by binding port 0.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw ServerError("binding port 0 failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Why the test server could not be used.
struct ServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
