import Foundation
import Synchronization

/// A throwaway PostgreSQL server for tests: a fresh cluster in a temporary directory, listening on
/// a random loopback port. The `postgres` user is trusted; other roles log in with a password.
///
/// One server serves the whole test process: ``shared()`` starts it on first use, and it is shut
/// down when the process exits (SIGINT to its own postmaster, by PID, then its directory is
/// removed). `initdb` and `postgres` refuse to run as root, so as root they run as the system
/// user `spoolpg`, created with `useradd -r -m spoolpg` when missing.
///
/// ```swift
/// @Suite(.enabled(if: PostgresServer.shouldRun))
/// struct MyTests {
///     @Test func works() async throws {
///         let server = try await PostgresServer.shared()
///         let url = server.url(database: try server.createDatabase())
///     }
/// }
/// ```
public final class PostgresServer: Sendable {
    /// The directory holding `initdb`, `postgres` and `psql`.
    public static let binaries = "/usr/lib/postgresql/15/bin"

    /// The unprivileged system user that runs the server when the tests run as root.
    public static let systemUser = "spoolpg"

    /// Whether PostgreSQL tests should run: PostgreSQL is installed, or it is missing and the tests
    /// must fail because `SPOOL_SKIP_POSTGRES=1` does not say to skip them.
    public static var shouldRun: Bool {
        isInstalled || ProcessInfo.processInfo.environment["SPOOL_SKIP_POSTGRES"] != "1"
    }

    /// Whether the PostgreSQL 15 server binaries are present.
    public static var isInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: "\(binaries)/postgres")
    }

    /// The loopback TCP port the server listens on.
    public let port: Int
    /// The temporary directory holding the cluster (`data`), the socket (`socket`) and the log.
    public let directory: URL

    private static let shared = Mutex<Task<PostgresServer, any Error>?>(nil)
    /// Every server this process started, stopped at its exit.
    private static let running = Mutex<[PostgresServer]>([])
    private static let databaseCounter = Atomic<Int>(0)

    private init(port: Int, directory: URL) {
        self.port = port
        self.directory = directory
    }

    /// The server shared by the test process, started on first use (about two seconds).
    ///
    /// Throws a ``PostgresServerError`` naming the cause when PostgreSQL is not installed or the
    /// server does not start.
    public static func shared() async throws -> PostgresServer {
        let task = shared.withLock { task in
            if let task { return task }
            let started = Task { try await offPool { try launch() } }
            task = started
            return started
        }
        return try await task.value
    }

    /// A `postgres://` URL for `database` as the `postgres` user, with `?schema=` when given.
    public func url(database: String = "postgres", schema: String? = nil) -> String {
        "postgres://postgres@127.0.0.1:\(port)/\(database)" + (schema.map { "?schema=\($0)" } ?? "")
    }

    /// Creates a new, empty database with a name unique in this process and returns the name.
    public func createDatabase() throws -> String {
        let name = "spool_test_\(ProcessInfo.processInfo.processIdentifier)_\(Self.databaseCounter.add(1, ordering: .relaxed).newValue)"
        try psql("CREATE DATABASE \(name)")
        return name
    }

    /// Runs one SQL command with `psql` against `database` and returns its unaligned output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try Self.run("\(Self.binaries)/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", database,
                                              "-v", "ON_ERROR_STOP=1", "-tAc", sql], asServerUser: false)
    }

    /// A server of its own: `settings` go to `postgres` as `-c NAME=VALUE`, `hostRules` replace
    /// the client authentication rules, and `files` are written into the data directory first,
    /// owned by the server's user and readable by it alone (as a TLS key must be). Stop it with
    /// ``stop()``; it is stopped at process exit too.
    public static func startPrivate(settings: [String: String] = [:], hostRules: String? = nil,
                                    files: [String: Data] = [:]) async throws -> PostgresServer {
        try await offPool { try launch(settings: settings, hostRules: hostRules, files: files) }
    }

    /// Runs `initdb`, starts `postgres` and waits until it answers a query.
    private static func launch(settings: [String: String] = [:], hostRules: String? = nil, files: [String: Data] = [:]) throws -> PostgresServer {
        guard isInstalled else {
            throw PostgresServerError("PostgreSQL 15 is not installed (\(binaries)/postgres is missing): install Debian's postgresql, or set SPOOL_SKIP_POSTGRES=1 to skip these tests")
        }
        let asRoot = geteuid() == 0
        if asRoot { try ensureSystemUser() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-postgres-\(UUID().uuidString)")
        let socket = directory.appendingPathComponent("socket")
        try FileManager.default.createDirectory(at: socket, withIntermediateDirectories: true)
        if asRoot {
            try run("/bin/chown", ["-R", "\(systemUser):", directory.path], asServerUser: false)
            try run("/bin/chmod", ["755", directory.path], asServerUser: false)
        }
        let data = directory.appendingPathComponent("data").path
        try run("\(binaries)/initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], asServerUser: asRoot)
        try (hostRules ?? Self.hostRules).write(toFile: "\(data)/pg_hba.conf", atomically: false, encoding: .utf8)
        for (name, contents) in files {
            let path = "\(data)/\(name)"
            try contents.write(to: URL(fileURLWithPath: path))
            if asRoot { try run("/bin/chown", ["\(systemUser):", path], asServerUser: false) }
            try run("/bin/chmod", ["600", path], asServerUser: false)
        }
        let port = try LoopbackSocket.freePort()
        let arguments = ["-D", data, "-p", "\(port)", "-k", socket.path, "-c", "listen_addresses=127.0.0.1",
                         "-c", "max_connections=300", "-c", "fsync=off"]
            + settings.sorted { $0.key < $1.key }.flatMap { ["-c", "\($0.key)=\($0.value)"] }
        let log = directory.appendingPathComponent("server.log")
        // Not Foundation's Process: see ChildProcess for what a long-lived child started so holds.
        let process = try ChildProcess.spawn(asRoot ? "/usr/sbin/runuser" : "\(binaries)/postgres",
                                             asRoot ? ["-u", systemUser, "--", "\(binaries)/postgres"] + arguments : arguments,
                                             environment: ProcessInfo.processInfo.environment, outputPath: log.path, directory: "/")
        let server = PostgresServer(port: port, directory: directory)
        let first = running.withLock { running in
            running.append(server)
            return running.count == 1
        }
        if first { atexit { for server in PostgresServer.running.withLock({ $0 }) { server.stop() } } }
        try server.waitUntilReady(process, log: log.path)
        return server
    }

    /// Client authentication: `postgres` is trusted; other roles must give their password
    /// (SCRAM), so tests can create roles with passwords and check refusals.
    private static let hostRules = """
        local all all trust
        host all postgres 127.0.0.1/32 trust
        host all all 127.0.0.1/32 scram-sha-256

        """

    /// Polls a TCP connection and a trivial query until both succeed.
    private func waitUntilReady(_ process: ChildProcess, log: String) throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            guard process.isRunning else {
                throw PostgresServerError("postgres exited during start; see \(log)")
            }
            if LoopbackSocket.accepts(port: port), (try? psql("SELECT 1"))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1" {
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw PostgresServerError("PostgreSQL did not answer within 60 s; see \(log)")
    }

    /// Fast shutdown: SIGINT to this server's postmaster, then waits for it and removes the directory.
    public func stop() {
        let pidFile = directory.appendingPathComponent("data/postmaster.pid").path
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
           let pid = pid_t(text.split(separator: "\n").first ?? "") {
            kill(pid, SIGINT)
            let deadline = Date().addingTimeInterval(10)
            while kill(pid, 0) == 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    private static func ensureSystemUser() throws {
        if (try? run("/usr/bin/id", ["-u", systemUser], asServerUser: false)) != nil { return }
        try run("/usr/sbin/useradd", ["-r", "-m", systemUser], asServerUser: false)
    }

    /// Runs a tool to completion and returns its standard output; throws with its output on failure.
    @discardableResult
    private static func run(_ executable: String, _ arguments: [String], asServerUser: Bool) throws -> String {
        let outcome = try ChildProcess.run(asServerUser ? "/usr/sbin/runuser" : executable,
                                           asServerUser ? ["-u", systemUser, "--", executable] + arguments : arguments, directory: "/")
        guard outcome.status == 0 else {
            throw PostgresServerError("\(executable) \(arguments.joined(separator: " ")) failed (\(outcome.status)): \(outcome.output)\(outcome.errors)")
        }
        return outcome.output
    }
}

/// Why the throwaway PostgreSQL server could not be used.
public struct PostgresServerError: Error, CustomStringConvertible {
    /// What went wrong, with where to look.
    public let description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
