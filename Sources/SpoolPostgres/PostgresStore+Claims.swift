import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    public func claim(_ params: ClaimParams) async throws -> [Job] {
        guard params.limit > 0 else { return [] }
        guard PostgresStore.takesLeadingClaim(params) else { return try await fullClaim(params) }
        let (logger, floor) = (self.logger, claimFloors.floor(for: params))
        let step = try await read { connection in
            try await PostgresStore.finishAndClaim(.none, finishedAt: params.now, claim: params, floor: floor, on: connection, logger: logger)
        }
        claimFloors.record(first: step.first, for: params, from: floor)
        return try await claimRest(params, after: step)
    }

    /// Whether `params` can be claimed by the store function's common claim: any number of
    /// queues, no agent filter.
    static func takesLeadingClaim(_ params: ClaimParams) -> Bool {
        params.limit > 0 && params.filter.isUnfiltered
    }

    /// The jobs of `step`'s claim for `params`, and those a full claim finds for the slots left
    /// when a job that names a quota stopped it.
    func claimRest(_ params: ClaimParams, after step: Step) async throws -> [Job] {
        guard step.maybeMore, step.jobs.count < params.limit else { return step.jobs }
        var remaining = params
        remaining.limit -= step.jobs.count
        return step.jobs + (try await fullClaim(remaining))
    }

    /// The full claim (``claim(_:now:schema:on:logger:)``) in a transaction of its own.
    func fullClaim(_ params: ClaimParams) async throws -> [Job] {
        let (now, schema, logger) = (PostgresRows.truncate(params.now), self.schema, self.logger)
        return try await transaction { connection in
            try await PostgresStore.claim(params, now: now, schema: schema, on: connection, logger: logger)
        }
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
