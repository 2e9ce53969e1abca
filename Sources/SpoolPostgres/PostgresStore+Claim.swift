import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    public func claim(_ params: ClaimParams) async throws -> [Job] {
        guard params.limit > 0 else { return [] }
        let now = PostgresRows.truncate(params.now)
        let (schema, logger) = (self.schema, self.logger)
        var claimed: [Job] = []
        if params.filter.isUnfiltered {
            let fast = try await read { connection in
                try await PostgresStore.claimLeadingJobs(params, now: now, schema: schema, on: connection, logger: logger)
            }
            guard fast.maybeMore, fast.jobs.count < params.limit else { return fast.jobs }
            claimed = fast.jobs
        }
        var remaining = params
        remaining.limit -= claimed.count
        let rest = remaining
        return claimed + (try await transaction { connection in
            try await PostgresStore.claim(rest, now: now, schema: schema, on: connection, logger: logger)
        })
    }

    /// The common claim in one statement and one round trip: promotes due jobs, then claims the
    /// waiting jobs in policy order up to the first that needs a quota. When it promoted jobs
    /// it claims none, since it cannot see them and they may come first. `maybeMore` says the
    /// full claim must look further: a job with quotas stopped the statement, jobs were
    /// promoted, or it found nothing (and could not tell why).
    static func claimLeadingJobs(_ params: ClaimParams, now: Date, schema: PostgresSchema, on connection: PostgresConnection,
                                 logger: Logger) async throws -> (jobs: [Job], maybeMore: Bool) {
        let nowMicros = PostgresRows.micros(now)
        let lease = PostgresRows.truncate(now.addingTimeInterval(params.lease.seconds))
        var binds = PostgresBindings()
        binds.append(nowMicros)
        binds.append(params.limit)
        binds.append(params.dispatcher)
        binds.append(PostgresRows.micros(lease))
        // Not a prepared statement: waiting jobs come and go faster than the planner's statistics,
        // and a generic plan, which cannot see the queue or the limit, was seen to sort every
        // waiting job of the queue on each claim instead of walking the queue's index in order.
        let queues = params.queues.map { "AND " + PostgresStore.queueCondition($0, binds: &binds) } ?? ""
        let sql = leadingClaimSQL(schema, byPriority: params.policy == .priority, queueCondition: queues)
        let rows = try await connection.rows(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        guard let first = rows.first else { return ([], true) }
        let jobs = try rows.map(PostgresRows.job)
        return (jobs, try first[22].decode(Int.self) > jobs.count)
    }

    /// The statement behind ``claimLeadingJobs(_:now:schema:on:logger:)``: parameters are now,
    /// the limit, the dispatcher, the lease's end and, when `queueCondition` names it, the queues
    /// (``queueCondition(_:binds:)``).
    static func leadingClaimSQL(_ schema: PostgresSchema, byPriority: Bool, queueCondition: String) -> String {
        let order = byPriority ? ["priority", "run_at", "seq"] : ["run_at", "seq"]
        func tuple(_ alias: String) -> String { "(" + order.map { "\(alias).\($0)" }.joined(separator: ", ") + ")" }
        return """
            WITH promoted AS (
                UPDATE \(schema.jobs) SET state = 'available'
                WHERE seq IN (SELECT seq FROM \(schema.jobs) WHERE state IN ('scheduled', 'retryable') AND run_at <= $1::bigint
                              FOR UPDATE SKIP LOCKED)
                RETURNING 1),
            page AS (
                SELECT seq, priority, run_at, quotas FROM \(schema.jobs) AS c
                WHERE state = 'available' \(queueCondition)
                    AND NOT EXISTS (SELECT 1 FROM \(schema.queues) AS q WHERE q.name = c.queue AND q.paused)
                ORDER BY \(order.joined(separator: ", ")) LIMIT $2::bigint FOR UPDATE SKIP LOCKED),
            ahead AS (
                SELECT p.seq FROM page AS p WHERE p.quotas = '{}' AND NOT EXISTS (SELECT 1 FROM promoted)
                    AND NOT EXISTS (SELECT 1 FROM page AS b WHERE b.quotas <> '{}' AND \(tuple("b")) < \(tuple("p")))),
            claimed AS (
                UPDATE \(schema.jobs) AS j SET state = 'running', attempt = j.attempt + 1, started_at = $1::bigint,
                    dispatcher = $3::uuid, lease_until = $4::bigint, cancel_requested = false
                FROM ahead WHERE j.seq = ahead.seq
                RETURNING \(PostgresRows.jobColumns(of: "j")))
            SELECT *, (SELECT count(*) FROM page) FROM claimed ORDER BY \(order.joined(separator: ", "))
            """
    }

    /// Promotes due jobs, then walks available jobs in policy order, page by page, locking each
    /// page with `FOR UPDATE SKIP LOCKED` and keeping the jobs the filter takes and the quotas
    /// admit, until the limit is reached or no job is left.
    ///
    /// The first candidate that names an existing quota locks every quota row, in name order, and
    /// only then are the quotas' holders counted: concurrent claims that touch quotas take turns,
    /// so no quota is overfilled across processes or machines.
    static func claim(_ params: ClaimParams, now: Date, schema: PostgresSchema, on connection: PostgresConnection,
                      logger: Logger) async throws -> [Job] {
        let nowMicros = PostgresRows.micros(now)
        try await connection.query("""
            UPDATE \(unescaped: schema.jobs) SET state = 'available'
            WHERE seq IN (SELECT seq FROM \(unescaped: schema.jobs) WHERE state IN ('scheduled', 'retryable') AND run_at <= \(nowMicros)
                          FOR UPDATE SKIP LOCKED)
            """, logger: logger)
        var paused: [String] = []
        for try await name in try await connection.query("SELECT name FROM \(unescaped: schema.queues) WHERE paused", logger: logger)
            .decode(String.self) { paused.append(name) }
        var quotas = QuotaCounts(sizes: try await quotaSizes(schema: schema, lock: false, on: connection, logger: logger))
        if !quotas.sizes.isEmpty {
            quotas.running = try await quotaRunning(schema: schema, on: connection, logger: logger)
        }

        var binds = PostgresBindings()
        var conditions = ["state = 'available'"]
        if let queues = params.queues {
            conditions.append(queueCondition(queues, binds: &binds))
        }
        if !paused.isEmpty {
            binds.append(paused)
            conditions.append("NOT (queue = ANY($\(binds.count)))")
        }
        let filled = quotas.ledger.filled.sorted()
        if !filled.isEmpty {
            binds.append(filled)
            conditions.append("NOT (quotas && $\(binds.count))")
        }
        let byPriority = params.policy == .priority
        let order = byPriority ? "priority, run_at, seq" : "run_at, seq"
        let pageSize = params.filter.isUnfiltered && quotas.sizes.isEmpty ? params.limit : max(params.limit * 4, 64)
        let select = "SELECT \(PostgresRows.jobColumns) FROM \(schema.jobs) WHERE \(conditions.joined(separator: " AND "))"

        var chosen: [(job: Job, seq: Int64, held: [String])] = []
        var cursor: [Int64]? = nil
        var ledger = quotas.ledger
        scan: while chosen.count < params.limit {
            var pageBinds = binds
            var sql = select
            if let cursor {
                let first = pageBinds.count + 1
                for value in cursor { pageBinds.append(value) }
                let placeholders = (first..<first + cursor.count).map { "$\($0)" }.joined(separator: ", ")
                sql += " AND (\(order)) > (\(placeholders))"
            }
            pageBinds.append(pageSize)
            sql += " ORDER BY \(order) LIMIT $\(pageBinds.count) FOR UPDATE SKIP LOCKED"
            let rows = try await connection.rows(PostgresQuery(unsafeSQL: sql, binds: pageBinds), logger: logger)
            for row in rows {
                let job = try PostgresRows.job(row)
                let seq = try PostgresRows.seq(row)
                cursor = byPriority ? [Int64(job.priority), PostgresRows.micros(job.runAt), seq] : [PostgresRows.micros(job.runAt), seq]
                guard params.filter.matches(job) else { continue }
                var held: [String] = []
                if job.quotas.contains(where: { quotas.sizes[$0] != nil }) {
                    if !quotas.locked {
                        quotas = QuotaCounts(sizes: try await quotaSizes(schema: schema, lock: true, on: connection, logger: logger))
                        quotas.running = try await quotaRunning(schema: schema, on: connection, logger: logger)
                        quotas.locked = true
                        for entry in chosen { for name in entry.held { quotas.running[name, default: 0] += 1 } }
                        ledger = quotas.ledger
                    }
                    guard let admitted = ledger.admit(job.quotas) else { continue }
                    held = admitted
                }
                chosen.append((job, seq, held))
                if chosen.count == params.limit { break scan }
            }
            if rows.count < pageSize { break }
        }
        guard !chosen.isEmpty else { return [] }

        let lease = PostgresRows.truncate(now.addingTimeInterval(params.lease.seconds))
        try await connection.query("""
            UPDATE \(unescaped: schema.jobs) SET state = 'running', attempt = attempt + 1, started_at = \(nowMicros),
                dispatcher = \(params.dispatcher), lease_until = \(PostgresRows.micros(lease)), cancel_requested = false
            WHERE seq = ANY(\(chosen.map(\.seq)))
            """, logger: logger)
        let holds = chosen.flatMap { entry in entry.held.map { (quota: $0, job: entry.job.id.description) } }
        if !holds.isEmpty {
            try await connection.query("""
                INSERT INTO \(unescaped: schema.quotaHolders) (quota, job_id)
                SELECT * FROM unnest(\(holds.map(\.quota))::text[], \(holds.map(\.job))::text[])
                """, logger: logger)
        }
        return chosen.map { entry in
            var job = entry.job
            job.claim(by: params.dispatcher, now: now, leaseUntil: lease)
            return job
        }
    }

    /// The condition that takes jobs of `queues`, binding them; one queue is compared as a
    /// value, so the planner walks the queue's own index in order.
    static func queueCondition(_ queues: [String], binds: inout PostgresBindings) -> String {
        if queues.count == 1 {
            binds.append(queues[0])
            return "queue = $\(binds.count)"
        }
        binds.append(queues)
        return "queue = ANY($\(binds.count))"
    }

    /// The quota sizes by name; with `lock`, every quota row is locked in name order.
    private static func quotaSizes(schema: PostgresSchema, lock: Bool, on connection: PostgresConnection,
                                   logger: Logger) async throws -> [String: Int] {
        var sizes: [String: Int] = [:]
        for try await (name, size) in try await connection.query("""
            SELECT name, size FROM \(unescaped: schema.quotas) ORDER BY name \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger: logger).decode((String, Int).self) { sizes[name] = size }
        return sizes
    }

    /// How many running jobs hold each quota.
    private static func quotaRunning(schema: PostgresSchema, on connection: PostgresConnection,
                                     logger: Logger) async throws -> [String: Int] {
        var running: [String: Int] = [:]
        for try await (name, count) in try await connection.query("""
            SELECT quota, COUNT(*) FROM \(unescaped: schema.quotaHolders) GROUP BY quota
            """, logger: logger).decode((String, Int).self) { running[name] = count }
        return running
    }
}

/// What one claim knows of the quotas: their sizes and holders, and whether their rows are locked.
private struct QuotaCounts {
    var sizes: [String: Int]
    var running: [String: Int] = [:]
    var locked = false

    var ledger: QuotaLedger { QuotaLedger(sizes: sizes, running: running) }
}
