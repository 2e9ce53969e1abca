import Foundation

/// The curl command-line client, for tests that drive a server the way a shell user does.
public enum Curl {
    /// Whether curl tests run: unless `SPOOL_SKIP_CURL=1`; a missing curl then fails them.
    public static var shouldRun: Bool {
        ProcessInfo.processInfo.environment["SPOOL_SKIP_CURL"] != "1"
    }

    /// Runs curl with `arguments` (off Swift concurrency's threads) and returns its outcome;
    /// throws when curl is not installed.
    public static func run(_ arguments: [String]) async throws -> ChildProcess.Outcome {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else {
            throw ServerError("curl is missing: install it (scripts/test does) or set SPOOL_SKIP_CURL=1")
        }
        return try await offPool { try ChildProcess.run("/usr/bin/curl", arguments) }
    }
}
