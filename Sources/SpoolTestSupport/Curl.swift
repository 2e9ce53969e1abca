import Foundation

/// The curl command-line client, for tests that drive a server the way a shell user does.
public enum Curl {
    /// Whether curl tests run: unless `SPOOL_SKIP_CURL=1`; a missing curl then fails them.
    public static var shouldRun: Bool {
        ProcessInfo.processInfo.environment["SPOOL_SKIP_CURL"] != "1"
    }

    /// Where curl is.
    public static let path = "/usr/bin/curl"

    /// Whether curl is installed.
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// What a test says when curl is missing.
    public static let missing = "curl is missing: install it (scripts/test does) or set SPOOL_SKIP_CURL=1"

    /// Runs curl with `arguments` (off Swift concurrency's threads) and returns its outcome;
    /// throws when curl is not installed.
    public static func run(_ arguments: [String]) async throws -> ChildProcess.Outcome {
        guard isInstalled else { throw ServerError(missing) }
        return try await offPool { try ChildProcess.run(path, arguments) }
    }
}
