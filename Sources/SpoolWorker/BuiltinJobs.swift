import Foundation
import SpoolCore

/// The jobs every Spool worker can run: `spool.noop`, `spool.echo`, `spool.sleep`, `spool.fail`.
public enum BuiltinJobs {
    /// Does nothing.
    public static let noop = "spool.noop"
    /// Its result is its payload.
    public static let echo = "spool.echo"
    /// Sleeps for `{"seconds": S}`; cancellable.
    public static let sleep = "spool.sleep"
    /// `{"times": N, "message": M}`: fails its first N attempts with M, then succeeds with
    /// `{"attempts": n}`; without `times` it always fails.
    public static let fail = "spool.fail"

    /// The error `spool.fail` throws.
    public struct Failure: Error, CustomStringConvertible {
        /// The message from the payload.
        public let description: String
    }

    private struct SleepArguments: Decodable { var seconds: Double }
    private struct FailArguments: Decodable { var times: Int?; var message: String? }

    /// Registers the built-in jobs into `registry`.
    public static func register(into registry: JobRegistry) {
        registry.register(name: noop) { _, _ in nil }
        registry.register(name: echo) { job, _ in job.payload }
        registry.register(name: sleep) { job, _ in
            let arguments = try decode(SleepArguments.self, job)
            guard TimeRange.accepts(seconds: arguments.seconds) else {
                throw JobControl.discard("spool.sleep needs a number of seconds from 0 to \(Int(TimeRange.longestSeconds)), got \(arguments.seconds)")
            }
            try await Task.sleep(for: .seconds(clamping: arguments.seconds))
            return nil
        }
        registry.register(name: fail) { job, _ in
            let arguments = try decode(FailArguments.self, job)
            let message = arguments.message ?? "spool.fail failed as asked"
            if let times = arguments.times, job.attempt > times {
                return try JSONPayload(encoding: ["attempts": job.attempt])
            }
            throw Failure(description: message)
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ job: Job) throws -> T {
        do {
            return try job.payload.decode(T.self)
        } catch {
            throw JobControl.discard("payload of \(job.name) is not valid for it: \(error)")
        }
    }
}
