import Foundation
import SpoolCore
import Synchronization

/// Writes a dispatcher's lifecycle events as JSON lines to a file, one unbuffered write per
/// event, so the record survives even a killed process. Each line holds `at` (an ISO 8601 UTC
/// time to the microsecond, such as `2026-12-04T22:26:34.123456Z`), `event`, `dispatcher`, and for job events `job`, `name`, `attempt`, `quotas`
/// and, when a job ended, `outcome`
/// (when its outcome was recorded, `state`).
public final class DispatcherJournal: Sendable {
    private let descriptor: Int32
    private let dispatcher: String
    private let events: Set<String>?
    private let lock = Mutex(())

    /// Opens `path` for appending, creating it when missing. With `events`, only events of
    /// those names (``DispatcherEvent/names``) are written; an unknown name is refused.
    public init(path: String, dispatcher: UUID, events: Set<String>? = nil) throws {
        if let unknown = events?.subtracting(DispatcherEvent.names).sorted(), !unknown.isEmpty {
            throw SpoolError(.invalidArgument, "unknown journal events \(unknown.joined(separator: ", ")); known: \(DispatcherEvent.names.sorted().joined(separator: ", "))")
        }
        self.events = events
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SpoolError(.invalidArgument, "cannot open journal \(path): \(String(cString: strerror(errno)))")
        }
        descriptor = fd
        self.dispatcher = dispatcher.uuidString.lowercased()
    }

    deinit { close(descriptor) }

    /// The observer that records every event (or those chosen at opening).
    public var observer: DispatcherObserver { { [self] event in record(event) } }

    /// Appends one event, unless the journal was opened for other events only.
    public func record(_ event: DispatcherEvent) {
        if let events, !events.contains(event.name) { return }
        let now = Date()
        var job: Job? = nil, outcome: String? = nil, state: String? = nil
        switch event {
        case .registered, .activated, .deactivated:
            break
        case .jobStarted(let started), .jobRescued(let started):
            job = started
        case .jobEnded(let ended, let ending):
            job = ended
            outcome = ending.map { $0.state(now: now).rawValue } ?? "abandoned"
        case .jobRecorded(let recorded):
            job = recorded
            state = recorded.state.rawValue
        }
        var writer = JSONWriter(capacity: 256)
        writer.object { writer in   // members in sorted key order
            writer.member("at")
            writer.string(ISO8601.formatMicroseconds(now))
            if let job {
                writer.member("attempt")
                writer.int(job.attempt)
            }
            writer.member("dispatcher")
            writer.string(dispatcher)
            writer.member("event")
            writer.string(event.name)
            if let job {
                writer.member("job")
                writer.string(job.id.description)
                writer.member("name")
                writer.string(job.name)
            }
            if let outcome {
                writer.member("outcome")
                writer.string(outcome)
            }
            if let job {
                writer.member("quotas")
                writer.array { writer in for quota in job.quotas { writer.string(quota) } }
            }
            if let state {
                writer.member("state")
                writer.string(state)
            }
        }
        var line = writer.bytes
        line.append(0x0A)
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
