import Foundation
import SpoolCore
import SpoolTestSupport

/// A `spool worker` child process on the bench's store, taking only the workload's queue and
/// journaling every job start.
final class WorkerProcess: Sendable {
    private let process: ChildProcess
    private let journal: String
    private let log: String

    private init(process: ChildProcess, journal: String, log: String) {
        self.process = process
        self.journal = journal
        self.log = log
    }

    /// Starts the worker `name` running `concurrency` jobs at once (journaling each job's start
    /// and end unless `journal` is false; `arguments` added to its command line), and returns
    /// once it registered with the store.
    static func start(_ target: BenchTarget, concurrency: Int, name: String = "worker", journal journaling: Bool = true,
                      arguments: [String] = []) async throws -> WorkerProcess {
        let id = UUID()
        let uuidFile = target.folder.path("\(name)-uuid.txt")
        let journal = target.folder.path("\(name)-journal.jsonl")
        let log = target.folder.path("\(name).log")
        try (id.uuidString.lowercased() + "\n").write(toFile: uuidFile, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        var environment = ProcessInfo.processInfo.environment
        environment["SPOOL_LOG_LEVEL"] = "error"
        let process = try ChildProcess.spawn(target.executable, [
            "worker", "--store", target.url, "--durability", target.durability, "--queue", target.queue,
            "--concurrency", "\(concurrency)", "--uuid-file", uuidFile,
        ] + (journaling ? ["--journal", journal, "--journal-events", "started,ended"] : []) + arguments, environment: environment, outputPath: log)
        let worker = WorkerProcess(process: process, journal: journal, log: log)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw SpoolError(.storeUnavailable, "the worker process exited with status \(process.terminationStatus ?? -1): \(worker.logTail)")
            }
            if try await target.store.dispatchers().contains(where: { $0.id == id && $0.state == .active }) { return worker }
            try await Task.sleep(for: .milliseconds(20))
        }
        await worker.stop()
        throw SpoolError(.storeUnavailable, "the worker process did not register within 30 seconds: \(worker.logTail)")
    }

    var isRunning: Bool { process.isRunning }

    /// The process's resident memory (`VmRSS` in `/proc/PID/status`), 0 when it cannot be read.
    var residentBytes: Int64 {
        guard let status = try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int64(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
        return kilobytes * 1024
    }

    /// Asks the worker to shut down (SIGTERM) and waits for it to exit.
    func stop() async {
        process.terminate()
        await process.waitForExit()
    }

    /// The job starts the worker journaled: job id and the time its code began.
    func journalStarts() throws -> [(JobID, Date)] {
        guard let data = FileManager.default.contents(atPath: journal) else { return [] }
        return try data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  object["event"] as? String == "started", let text = object["job"] as? String,
                  let id = JobID(text), let at = (object["at"] as? String).flatMap(ISO8601.parse) else { return nil }
            return (id, at)
        }
    }

    private var logTail: String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let tail = text.split(separator: "\n").suffix(3).joined(separator: " | ")
        return tail.isEmpty ? "no output" : tail
    }
}
