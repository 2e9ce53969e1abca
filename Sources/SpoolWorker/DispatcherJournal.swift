import Foundation
import SpoolCore
import Synchronization

/// Writes a dispatcher's lifecycle events as JSON lines to a file, one unbuffered write per
/// event, so the record survives even a killed process. Each line holds `at` (microseconds
/// since 1970), `event`, `dispatcher`, and for job events `job`, `name`, `attempt`, `quotas`
/// and, when a job ended, `outcome`
/// (when its outcome was recorded, `state`).
public final class DispatcherJournal: Sendable {
    private let descriptor: Int32
    private let dispatcher: String
    private let lock = Mutex(())

    /// Opens `path` for appending, creating it when missing.
    public init(path: String, dispatcher: UUID) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SpoolError(.invalidArgument, "cannot open journal \(path): \(String(cString: strerror(errno)))")
        }
        descriptor = fd
        self.dispatcher = dispatcher.uuidString.lowercased()
    }

    deinit { close(descriptor) }

    /// The observer that records every event.
    public var observer: DispatcherObserver { { [self] event in record(event) } }

    /// Appends one event.
    public func record(_ event: DispatcherEvent) {
        var fields: [String: JSONValue] = [
            "at": .number((Date().timeIntervalSince1970 * 1_000_000).rounded()),
            "event": .string(event.name),
            "dispatcher": .string(dispatcher),
        ]
        func describe(_ job: Job) {
            fields["job"] = .string(job.id.description)
            fields["name"] = .string(job.name)
            fields["attempt"] = .number(Double(job.attempt))
            fields["quotas"] = .array(job.quotas.map(JSONValue.string))
        }
        switch event {
        case .registered, .activated, .deactivated:
            break
        case .jobStarted(let job), .jobRescued(let job):
            describe(job)
        case .jobEnded(let job, let outcome):
            describe(job)
            fields["outcome"] = .string(outcome.map { $0.state(now: Date()).rawValue } ?? "abandoned")
        case .jobRecorded(let job):
            describe(job)
            fields["state"] = .string(job.state.rawValue)
        }
        let line = Array((JSONValue.object(fields).compactText + "\n").utf8)
        lock.withLock { _ in
            line.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written <= 0 { return }
                    offset += written
                }
            }
        }
    }
}
