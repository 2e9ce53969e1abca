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
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Swift.Result { try runBlocking(arguments, environment: environment) })
            }
        }
    }

    /// Waits for `process` to exit on a thread of its own.
    static func waitForExit(_ process: Process) async {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }

    /// Runs `spool` with its output in temporary files, not pipes: a pipe inherited by a
    /// process started elsewhere at the same moment would never report its end.
    private static func runBlocking(_ arguments: [String], environment: [String: String]) throws -> Result {
        let directory = try TemporaryDirectory()
        let stdoutPath = directory.path("stdout"), stderrPath = directory.path("stderr")
        for path in [stdoutPath, stderrPath] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let stdout = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        let stderr = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        let process = try start(arguments, environment: environment, stdout: stdout, stderr: stderr)
        process.waitUntilExit()
        try stdout.close()
        try stderr.close()
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
    }

    /// Starts `spool` with `arguments` in `directory` (else this process's); its output goes to
    /// `log`, or nowhere.
    static func start(_ arguments: [String], environment: [String: String] = [:], log: String? = nil,
                      in directory: String? = nil) throws -> Process {
        let path = log ?? "/dev/null"
        if log != nil { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        return try start(arguments, environment: environment, stdout: handle, stderr: handle, directory: directory)
    }

    private static func start(_ arguments: [String], environment: [String: String], stdout: FileHandle, stderr: FileHandle,
                              directory: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        env["SPOOL_STORE"] = nil
        env["SPOOL_UUID_FILE"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        return process
    }
}
