import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    /// Tells other processes' dispatchers, in the caller's transaction, that `queues` gained
    /// available jobs: a NOTIFY on the schema's channel, in as many payloads as PostgreSQL's
    /// 8000-byte limit needs (``PostgresSchema/queuePayloads(_:)``). Sent at the commit.
    static func notifyAvailable(_ queues: Set<String>, schema: PostgresSchema, on connection: PostgresConnection,
                                logger: Logger) async throws {
        for payload in PostgresSchema.queuePayloads(queues.sorted()) {
            try await connection.query("SELECT pg_notify(\(schema.channel), \(payload))", logger: logger)
        }
    }

    /// Announces, in the caller's transaction, the jobs of `ended` that reached a terminal state,
    /// on the schema's ends channel, while some process follows ends (a row of
    /// ``PostgresSchema/followers`` valid at `now`). PostgreSQL delivers the notifications only if
    /// the transaction commits, in commit order.
    static func announceEnds(_ ended: [JobID: JobState], now: Date, schema: PostgresSchema, on connection: PostgresConnection,
                             logger: Logger) async throws {
        var byState: [JobState: [String]] = [:]
        for (id, state) in ended where state.isTerminal { byState[state, default: []].append(id.description) }
        guard !byState.isEmpty else { return }
        let nowMicros = PostgresRows.micros(now)
        for (state, ids) in byState.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            for start in stride(from: 0, to: ids.count, by: PostgresSchema.idsPerEndNotification) {
                let chunk = ids[start..<min(start + PostgresSchema.idsPerEndNotification, ids.count)]
                let payload = ([state.rawValue] + chunk).joined(separator: "\n")
                try await connection.query("""
                    SELECT pg_notify(\(schema.endsChannel), \(payload))
                    WHERE EXISTS (SELECT 1 FROM \(unescaped: schema.followers) WHERE until > \(nowMicros))
                    """, logger: logger)
            }
        }
    }

    /// The jobs and states of one notification on the ends channel; `nil` when it is not one.
    static func endedJobs(_ payload: String) -> [JobID: JobState]? {
        var lines = payload.split(separator: "\n")
        guard !lines.isEmpty, let state = JobState(rawValue: String(lines.removeFirst())), state.isTerminal else { return nil }
        var ended: [JobID: JobState] = [:]
        for line in lines {
            guard let id = JobID(String(line)) else { return nil }
            ended[id] = state
        }
        return ended
    }
}
