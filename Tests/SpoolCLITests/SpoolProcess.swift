import Foundation
import SpoolTestSupport

/// The `spool` executable built next to the test bundle, run as a child process.
enum SpoolProcess {
    /// The path of the built `spool` executable.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["SPOOL_BINARY"] { return path }
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spool").path,
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("spool").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug/spool").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }()

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `spool` with `arguments` to completion on a thread of its own, leaving Swift
    /// concurrency's threads free for the tests running beside it.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Result {
        try await offPool { try runBlocking(arguments, environment: environment) }
    }

    /// Runs `spool` with its output in temporary files, not pipes: a pipe inherited by a
    /// process started elsewhere at the same moment would never report its end.
    private static func runBlocking(_ arguments: [String], environment: [String: String]) throws -> Result {
        let outcome = try ChildProcess.run(binary, arguments, environment: childEnvironment(environment))
        return Result(status: outcome.status, stdout: outcome.output, stderr: outcome.errors)
    }

    /// Starts `spool` with `arguments` in `directory` (else this process's); its output goes to
    /// `log`, or nowhere.
    static func start(_ arguments: [String], environment: [String: String] = [:], log: String? = nil,
                      in directory: String? = nil) throws -> ChildProcess {
        let path = log ?? "/dev/null"
        if log != nil { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        return try ChildProcess.spawn(binary, arguments, environment: childEnvironment(environment), outputPath: path,
                                      directory: directory)
    }

    /// This process's environment without the store and identity it may name, plus `extra`.
    private static func childEnvironment(_ extra: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["SPOOL_STORE"] = nil
        environment["SPOOL_UUID_FILE"] = nil
        for (key, value) in extra { environment[key] = value }
        return environment
    }
}
