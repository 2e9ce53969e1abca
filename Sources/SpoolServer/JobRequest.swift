import Foundation
import SpoolCore

/// The body of `POST /v1/jobs`: one job, or `{"jobs": [...]}`.
///
/// A job is `{"name", "payload", "queue", "priority", "runAt" | "delay", "quotas", "tags",
/// "uniqueKey", "maxAttempts", "timeout"}`; only `name` is required. `runAt` is an ISO 8601
/// time, `delay` and `timeout` are seconds.
enum JobRequest {
    /// The jobs of a request body and whether it was the bulk form.
    static func parse(_ body: JSONValue, now: Date) throws -> (jobs: [NewJob], bulk: Bool) {
        if case .object(let members) = body, let list = members["jobs"] {
            guard members.count == 1 else {
                let other = members.keys.filter { $0 != "jobs" }.sorted()[0]
                throw APIError(.badRequest, "unknown_field", "a bulk request holds only \"jobs\"; found '\(other)'")
            }
            guard case .array(let items) = list else { throw APIError.invalidField("jobs must be an array of job objects") }
            guard !items.isEmpty else { throw APIError.invalidField("jobs must hold at least one job") }
            return (try items.enumerated().map { try job($1, place: "jobs[\($0)]", now: now) }, true)
        }
        return ([try job(body, place: "job", now: now)], false)
    }

    /// One job object.
    static func job(_ value: JSONValue, place: String, now: Date) throws -> NewJob {
        var reader = try FieldReader(value, place: place)
        guard let name = try reader.string("name") else { throw APIError.invalidField("\(place).name is required: the job's registered name") }
        var job = NewJob(name: name)
        if let payload = reader.json("payload") { job.payload = JSONPayload(unchecked: payload.compactText) }
        if let queue = try reader.string("queue") { job.queue = queue }
        if let priority = try reader.int("priority") { job.priority = priority }
        if let maxAttempts = try reader.int("maxAttempts") { job.maxAttempts = maxAttempts }
        if let uniqueKey = try reader.string("uniqueKey") { job.uniqueKey = uniqueKey }
        if let quotas = try reader.strings("quotas") { job.quotas = quotas }
        if let tags = try reader.strings("tags") { job.tags = tags }
        if reader.has("runAt"), reader.has("delay") { throw APIError.invalidField("\(place): give runAt or delay, not both") }
        let runAt = try reader.string("runAt"), delay = try reader.number("delay")
        if let runAt {
            guard let date = TimeRange.runAt(runAt) else {
                throw APIError.invalidField("\(place).runAt '\(runAt.prefix(64))' is not \(TimeRange.description)")
            }
            job.runAt = date
        }
        if let delay {
            guard TimeRange.accepts(seconds: delay), TimeRange.contains(now.addingTimeInterval(delay)) else {
                throw APIError.invalidField("\(place).delay must be a number of seconds from 0 to \(Int(TimeRange.longestSeconds))")
            }
            job.runAt = now.addingTimeInterval(delay)
        }
        if let timeout = try reader.number("timeout") {
            guard (TimeRange.shortestTimeout...TimeRange.longestSeconds).contains(timeout) else {
                throw APIError.invalidField("\(place).timeout must be from 0.001 to \(Int(TimeRange.longestSeconds)) seconds")
            }
            job.timeout = .seconds(clamping: timeout)
        }
        try reader.rejectUnknownFields()
        return job
    }
}
