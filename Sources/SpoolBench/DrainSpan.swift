import Foundation
import SpoolCore

/// A drain as the store recorded it: from the first job's claim to the last job's completion,
/// how many of the workload's jobs completed, and how many claims beyond each job's first
/// (a job claimed twice ran twice).
public struct DrainSpan: Sendable {
    /// When the first job was claimed.
    public var first: Date?
    /// When the last job completed.
    public var last: Date?
    /// How many jobs completed.
    public var completed = 0
    /// Claims beyond each job's first.
    public var reruns = 0

    /// The seconds from the first claim to the last completion; 0 when nothing ran.
    public var seconds: Double {
        guard let first, let last else { return 0 }
        return max(last.timeIntervalSince(first), 0)
    }

    /// Reads every job of `target`'s queue, a page at a time.
    static func read(_ target: BenchTarget) async throws -> DrainSpan {
        try await read(target.store, queue: target.queue)
    }

    /// Reads every job of `queue` in `store`, a page at a time.
    public static func read(_ store: any JobStore, queue: String) async throws -> DrainSpan {
        var span = DrainSpan()
        var after: JobID? = nil
        repeat {
            let page = try await store.jobs(JobQuery(queue: queue, limit: 1000, after: after))
            for job in page.jobs {
                if let started = job.startedAt { span.first = min(span.first ?? started, started) }
                if job.state == .completed {
                    span.completed += 1
                    if let finished = job.finishedAt { span.last = max(span.last ?? finished, finished) }
                }
                span.reruns += max(0, job.attempt - 1)
            }
            after = page.nextCursor
        } while after != nil
        return span
    }
}
