import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SpoolCore
import SpoolHTTP
import SpoolTestSupport

/// The worker application of `spool bench --http-jobs`: `POST /noop` checks the request's
/// `X-Spool-Signature` (as every worker app must) and answers 204. It runs in a process of its
/// own (`spool bench-app`), so the bench measures Spool's side of each call, not the app's.
/// `bench/compare` starts the same app for its peers.
public enum NoopWorkerApp {
    /// The secret a bench run signs with; the app and every worker of the run share it.
    public static let secretVariable = HTTPSigningKeys.environmentVariable

    /// Serves on `host`:`port` (0: a free port) until cancelled; `listening` gets the port.
    public static func serve(host: String, port: Int, keys: HTTPSigningKeys, listening: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router()
        router.middlewares.add(HTTPSignatureMiddleware(verifier: HTTPSignatureVerifier(keys: keys)))
        router.post("/noop") { _, _ in Response(status: .noContent) }
        let app = Application(router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
                              onServerRunning: { channel in listening(channel.localAddress?.port ?? 0) })
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    /// Starts `spool bench-app` from `executable` with the run's secret in its environment;
    /// returns the process and the URL of its `/noop`.
    static func start(executable: String, folder: TemporaryDirectory) async throws -> (ChildProcess, URL) {
        let log = folder.path("bench-app.log")
        let process = try ChildProcess.spawn(executable, ["bench-app", "--port", "0"], environment: ProcessInfo.processInfo.environment,
                                             outputPath: log)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: "listening on 127.0.0.1:"), let port = Int(text[range.upperBound...].prefix { $0.isNumber }) {
                return (process, URL(string: "http://127.0.0.1:\(port)/noop")!)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw BenchFailure("the bench's worker app did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// Puts a random signing secret in this process's environment unless one is set, so that
    /// the app and separate worker processes started from here share it.
    static func ensureSecret() {
        guard (ProcessInfo.processInfo.environment[secretVariable] ?? "").isEmpty else { return }
        setenv(secretVariable, "bench:" + (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined(), 1)
    }
}
