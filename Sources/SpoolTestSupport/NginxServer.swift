import Foundation

/// A private nginx (Debian's `nginx-light`) in the foreground on a random loopback port, as the
/// reverse proxy of tests; its configuration and temporary files live in a directory of its own.
/// Stop it with ``stop()`` (it is stopped when the value is released too).
public final class NginxServer: Sendable {
    /// The nginx executable.
    public static let executable = "/usr/sbin/nginx"

    /// Whether the tests that need nginx run: unless `SPOOL_SKIP_NGINX=1` says to skip them (a
    /// missing nginx then fails them, naming how to install it).
    public static var shouldRun: Bool { ProcessInfo.processInfo.environment["SPOOL_SKIP_NGINX"] != "1" }

    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    private let process: ChildProcess
    private let directory: TemporaryDirectory

    /// Where requests go.
    public var url: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, process: ChildProcess, directory: TemporaryDirectory) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    deinit { stop() }

    /// Starts nginx with `http` as the body of its `http {}` block; `http` names the listening
    /// address as `LISTEN` (replaced by `127.0.0.1:PORT`). Returns once it accepts connections.
    public static func start(http: String) async throws -> NginxServer {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ServerError("nginx is not installed (\(executable) is missing): install Debian's nginx-light (scripts/test does), or set SPOOL_SKIP_NGINX=1 to skip these tests")
        }
        let directory = try TemporaryDirectory()
        let port = try LoopbackSocket.freePort()
        let temporary = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .map { "\($0)_temp_path \(directory.path($0));" }.joined(separator: "\n    ")
        let configuration = """
            daemon off;
            master_process off;
            pid \(directory.path("nginx.pid"));
            error_log \(directory.path("error.log")) info;
            events { worker_connections 256; }
            http {
                access_log \(directory.path("access.log"));
                \(temporary)
                \(http.replacingOccurrences(of: "LISTEN", with: "127.0.0.1:\(port)"))
            }
            """
        try configuration.write(toFile: directory.path("nginx.conf"), atomically: true, encoding: .utf8)
        let process = try ChildProcess.spawn(executable, ["-c", directory.path("nginx.conf"), "-p", directory.path("")],
                                             environment: ProcessInfo.processInfo.environment, outputPath: directory.path("nginx.out"))
        let server = NginxServer(port: port, process: process, directory: directory)
        do {
            try await LoopbackSocket.waitUntilAccepting(port: port, process: process, name: "nginx", timeout: .seconds(15))
        } catch {
            let log = (try? String(contentsOfFile: directory.path("error.log"), encoding: .utf8)) ?? ""
            throw ServerError("\(error): \(log.suffix(1000))")
        }
        return server
    }

    /// Stops nginx.
    public func stop() {
        if process.isRunning { process.terminate() }
    }
}
