import Foundation

/// A directory under the system's temporary directory, removed when the value is released.
public final class TemporaryDirectory: Sendable {
    /// The directory's path.
    public let url: URL

    /// Creates a fresh, empty directory.
    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("spool-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the directory.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Removes the directory, unless `SPOOL_KEEP_TEST_DIRS` is set: then it prints the path and
    /// keeps the directory (worker logs, journals) for a look after the test.
    deinit {
        if ProcessInfo.processInfo.environment["SPOOL_KEEP_TEST_DIRS"] != nil {
            print("kept \(url.path)")
        } else {
            try? FileManager.default.removeItem(at: url)
        }
    }
}
