import Foundation
import Logging
import SpoolCore
import Synchronization

/// What a job's code receives besides its arguments.
public struct JobContext: Sendable {
    let execution: JobExecution

    /// The job as claimed: id, attempt, queue, tags.
    public var job: Job { execution.job }

    /// A logger (`spool.trace`) carrying the job's id and name.
    public var logger: Logger { execution.logger.forJob(execution.job) }

    /// Enqueues `job` when, and only when, this attempt completes: in the same transaction
    /// that records the completion.
    public func enqueueOnCompletion(_ job: NewJob) {
        execution.enqueueOnCompletion(job)
    }
}

extension Logger {
    /// This logger with the job's id and name as metadata.
    func forJob(_ job: Job) -> Logger {
        var logger = self
        logger[metadataKey: "job"] = "\(job.id)"
        logger[metadataKey: "job_name"] = "\(job.name)"
        return logger
    }
}

/// Explicit outcomes a job can ask for instead of succeeding or failing normally.
public enum JobControl: Error, Sendable {
    /// Fail without retrying, whatever attempts are left.
    case discard(String)
    /// End the job as cancelled.
    case cancel(String)
    /// Run again after the delay without using up an attempt.
    case snooze(Duration)
    /// Fail this attempt with the message, to be tried again (if attempts remain) after the
    /// job's backoff or `after`, whichever is later: for a service that said when to come back.
    case retry(String, after: Duration)
}

/// The code that runs a job: takes the claimed job and returns its result, if any.
public typealias JobHandler = @Sendable (Job, JobContext) async throws -> JSONPayload?

/// Job code by name. Typed jobs decode their `Codable` arguments; untyped jobs take raw JSON.
public final class JobRegistry: Sendable {
    private let handlers = Mutex<[String: JobHandler]>([:])

    /// Creates an empty registry.
    public init() {}

    /// Registers untyped code under `name`, replacing any earlier registration.
    public func register(name: String, _ handler: @escaping JobHandler) {
        handlers.withLock { $0[name] = handler }
    }

    /// Registers a typed job whose result is encoded as JSON.
    public func register<Arguments, Result: Encodable & Sendable>(
        _ name: JobName<Arguments>, _ body: @escaping @Sendable (Arguments, JobContext) async throws -> Result
    ) {
        register(name: name.rawValue) { job, context in
            try JSONPayload(encoding: try await body(Self.decode(job, as: Arguments.self), context))
        }
    }

    /// Registers a typed job that has no result.
    public func register<Arguments>(_ name: JobName<Arguments>, _ body: @escaping @Sendable (Arguments, JobContext) async throws -> Void) {
        register(name: name.rawValue) { job, context in
            try await body(Self.decode(job, as: Arguments.self), context)
            return nil
        }
    }

    /// The code registered under `name`.
    public func handler(for name: String) -> JobHandler? {
        handlers.withLock { $0[name] }
    }

    /// Every registered name, sorted.
    public var names: [String] { handlers.withLock { $0.keys.sorted() } }

    private static func decode<Arguments: Decodable>(_ job: Job, as type: Arguments.Type) throws -> Arguments {
        do {
            return try job.payload.decode(Arguments.self)
        } catch {
            throw JobControl.discard("payload of job '\(job.name)' does not decode as \(Arguments.self): \(error)")
        }
    }
}
