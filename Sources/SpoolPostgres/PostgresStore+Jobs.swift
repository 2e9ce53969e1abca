import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    static func fetchJob(_ id: JobID, schema: PostgresSchema, on connection: PostgresConnection, logger: Logger,
                         lock: Bool = false) async throws -> Job? {
        try await connection.jobs("""
            SELECT \(unescaped: PostgresRows.jobColumns) FROM \(unescaped: schema.jobs) WHERE id = \(id.description)
            \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger: logger).first
    }

    static func requireJob(_ id: JobID, schema: PostgresSchema, on connection: PostgresConnection, logger: Logger) async throws -> Job {
        guard let job = try await fetchJob(id, schema: schema, on: connection, logger: logger, lock: true) else {
            throw SpoolError(.jobNotFound, "no job with id \(id)")
        }
        return job
    }

    public func job(_ id: JobID) async throws -> Job? {
        let (schema, logger) = (self.schema, self.logger)
        return try await read { try await PostgresStore.fetchJob(id, schema: schema, on: $0, logger: logger) }
    }

    public func jobs(_ query: JobQuery) async throws -> JobPage {
        var conditions: [String] = []
        var binds = PostgresBindings()
        func bind(_ column: String, _ comparison: String, _ value: String) {
            binds.append(value)
            conditions.append("\(column) \(comparison) $\(binds.count)")
        }
        if let queue = query.queue { bind("queue", "=", queue) }
        if let state = query.state { bind("state", "=", state.rawValue) }
        if let name = query.name { bind("name", "=", name) }
        if let after = query.after { bind("id", "<", after.description) }
        let limit = max(0, query.limit)
        binds.append(limit + 1)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT \(PostgresRows.jobColumns) FROM \(schema.jobs) \(filter) ORDER BY id DESC LIMIT $\(binds.count)"
        let statement = PostgresQuery(unsafeSQL: sql, binds: binds)
        let logger = self.logger
        let jobs = try await read { try await $0.jobs(statement, logger: logger) }
        let page = Array(jobs.prefix(limit))
        return JobPage(jobs: page, nextCursor: jobs.count > limit ? page.last?.id : nil)
    }

    public func delete(_ ids: [JobID]) async throws -> [JobID] {
        let (schema, logger) = (self.schema, self.logger)
        let deleted = try await transaction { connection in
            var deleted: Set<String> = []
            for try await id in try await connection.query("""
                DELETE FROM \(unescaped: schema.jobs)
                WHERE id = ANY(\(ids.map(\.description))) AND state IN ('completed', 'discarded', 'cancelled') RETURNING id
                """, logger: logger).decode(String.self) { deleted.insert(id) }
            return deleted
        }
        return ids.filter { deleted.contains($0.description) }
    }

    public func cancel(_ id: JobID, now: Date) async throws -> Job {
        let now = PostgresRows.truncate(now)
        let (schema, logger) = (self.schema, self.logger)
        let job = try await transaction { connection in
            var job = try await PostgresStore.requireJob(id, schema: schema, on: connection, logger: logger)
            if job.state == .running {
                try await connection.query("UPDATE \(unescaped: schema.jobs) SET cancel_requested = true WHERE id = \(id.description)",
                                           logger: logger)
                job.cancelRequested = true
            } else if job.state.isWaiting {
                try await connection.query("""
                    UPDATE \(unescaped: schema.jobs) SET state = 'cancelled', finished_at = \(PostgresRows.micros(now))
                    WHERE id = \(id.description)
                    """, logger: logger)
                job.state = .cancelled
                job.finishedAt = now
            }
            return job
        }
        switch job.state {
        case .running: events.publish(.cancelRequested(id))
        case .cancelled: events.publish(.jobsFinished([id: .cancelled]))
        default: break
        }
        return job
    }

    public func retry(_ id: JobID, now: Date) async throws -> Job {
        let now = PostgresRows.truncate(now)
        let (schema, logger) = (self.schema, self.logger)
        let job = try await transaction { connection in
            var job = try await PostgresStore.requireJob(id, schema: schema, on: connection, logger: logger)
            if job.state.isTerminal, let key = job.uniqueKey {
                for try await holder in try await connection.query("""
                    SELECT id FROM \(unescaped: schema.jobs)
                    WHERE unique_key = \(key) AND state NOT IN ('completed', 'discarded', 'cancelled') LIMIT 1
                    """, logger: logger).decode(String.self) {
                    throw SpoolError.uniqueKeyHeld(id, key: key, holder: holder)
                }
            }
            try job.retry(now: now)
            try await connection.query("""
                UPDATE \(unescaped: schema.jobs) SET state = 'available', run_at = \(PostgresRows.micros(now)), finished_at = NULL,
                    cancel_requested = false, max_attempts = \(job.maxAttempts)
                WHERE id = \(id.description)
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(schema.channel), \(job.queue))", logger: logger)
            return job
        }
        events.publish(.jobsAvailable(queues: [job.queue]))
        return job
    }

    public func setQuotas(_ id: JobID, quotas: [String]) async throws -> Job {
        let (schema, logger) = (self.schema, self.logger)
        return try await transaction { connection in
            var job = try await PostgresStore.requireJob(id, schema: schema, on: connection, logger: logger)
            guard job.state.isWaiting else {
                throw SpoolError(.invalidState, "job \(id) is \(job.state); only a waiting job's quotas can change")
            }
            var known: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM \(unescaped: schema.quotas)", logger: logger)
                .decode(String.self) { known.insert(name) }
            if let unknown = quotas.first(where: { !known.contains($0) }) { throw SpoolError.unknownQuota(unknown) }
            try await connection.query("UPDATE \(unescaped: schema.jobs) SET quotas = \(quotas) WHERE id = \(id.description)",
                                       logger: logger)
            job.quotas = quotas
            return job
        }
    }
}
