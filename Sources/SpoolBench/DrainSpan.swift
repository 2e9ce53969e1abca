import Foundation
import SpoolCore

/// A drain as the store recorded it: from the first job's claim to the last job's completion,
/// how many of the workload's jobs completed, and how many claims beyond each job's first
/// (a job claimed twice ran twice).
struct DrainSpan {
    var first: Date?
    var last: Date?
    var completed = 0
    var reruns = 0

    /// The seconds from the first claim to the last completion; 0 when nothing ran.
    var seconds: Double {
        guard let first, let last else { return 0 }
        return max(last.timeIntervalSince(first), 0)
    }

    /// Reads every job of `target`'s queue, a page at a time.
    static func read(_ target: BenchTarget) async throws -> DrainSpan {
        var span = DrainSpan()
        var after: JobID? = nil
        repeat {
            let page = try await target.store.jobs(JobQuery(queue: target.queue, limit: 1000, after: after))
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
