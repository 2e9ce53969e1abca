import Foundation
import GRDB
import SpoolCore

extension SQLiteStore {
    public func claim(_ params: ClaimParams) async throws -> [Job] {
        guard params.limit > 0 else { return [] }
        let now = SQLiteRows.truncate(params.now)
        return try await write { db in try SQLiteStore.claim(params, now: now, db: db) }
    }

    /// Promotes due jobs, then walks waiting jobs in policy order (``ClaimScan``), keeping those
    /// the filter takes and the quotas admit, until the limit is reached or no job is left.
    static func claim(_ params: ClaimParams, now: Date, db: Database) throws -> [Job] {
        let nowMicros = SQLiteRows.micros(now)
        try promoteDueJobs(nowMicros, db: db)
        let paused = try String.fetchAll(db.cachedStatement(sql: "SELECT name FROM queues WHERE paused = 1"))
        let ledger = try quotaLedger(db)

        var conditions = ["state = 'available'"]
        var arguments: [String] = []
        if let queues = params.queues {
            conditions.append("queue IN (\(placeholders(queues.count)))")
            arguments += queues
        }
        if !paused.isEmpty {
            conditions.append("queue NOT IN (\(placeholders(paused.count)))")
            arguments += paused
        }
        let filled = ledger?.filled.sorted() ?? []
        if !filled.isEmpty {
            conditions.append("(quotas IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(jobs.quotas) WHERE value IN (\(placeholders(filled.count)))))")
            arguments += filled
        }
        var scan = ClaimScan(limit: params.limit, filter: params.filter, ledger: ledger)
        if params.policy == .priority {
            // Jobs of the default priority are indexed in FIFO order only; the rest by priority too.
            try scan.walk(db, conditions: conditions + ["priority != 0", "priority < 0"], arguments: arguments, order: .priority)
            try scan.walk(db, conditions: conditions + ["priority = 0"], arguments: arguments, order: .fifo)
            try scan.walk(db, conditions: conditions + ["priority != 0", "priority > 0"], arguments: arguments, order: .priority)
        } else {
            try scan.walk(db, conditions: conditions, arguments: arguments, order: .fifo)
        }
        let chosen = scan.chosen
        guard !chosen.isEmpty else { return [] }

        let lease = SQLiteRows.truncate(now.addingTimeInterval(params.lease.seconds))
        let leaseMicros = SQLiteRows.micros(lease)
        let dispatcher = SQLiteRows.uuid(params.dispatcher)
        let update = BoundStatement(try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'running', attempt = attempt + 1, started_at = ?, dispatcher = ?, lease_until = ?,
                            cancel_requested = 0
            WHERE seq = ?
            """), in: db)
        let hold = try db.cachedStatement(sql: "INSERT INTO quota_holders (quota, job_id) VALUES (?, ?)")
        var counts = JobCountChanges()
        let claimed = try chosen.map { entry in
            update.bind(1, nowMicros)
            update.bind(2, dispatcher)
            update.bind(3, leaseMicros)
            update.bind(4, entry.seq)
            try update.execute()
            for name in entry.held { try hold.execute(arguments: [name, entry.job.id.description]) }
            var job = entry.job
            job.claim(by: params.dispatcher, now: now, leaseUntil: lease)
            counts.move(job.queue, from: .available, to: .running)
            return job
        }
        try counts.write(db)
        return claimed
    }

    /// Makes scheduled and retryable jobs whose time has come available, counting them.
    private static func promoteDueJobs(_ nowMicros: Int64, db: Database) throws {
        // Nearly always nothing is due: one index probe then, not a grouping.
        let anyDue = try db.cachedStatement(sql: "SELECT 1 FROM jobs WHERE state IN ('scheduled', 'retryable') AND run_at <= ? LIMIT 1")
        guard try Int.fetchOne(anyDue, arguments: [nowMicros]) != nil else { return }
        let due = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT queue, state, COUNT(*) FROM jobs WHERE state IN ('scheduled', 'retryable') AND run_at <= ? GROUP BY queue, state
            """), arguments: [nowMicros])
        guard !due.isEmpty else { return }
        try db.cachedStatement(sql: "UPDATE jobs SET state = 'available' WHERE state IN ('scheduled', 'retryable') AND run_at <= ?")
            .execute(arguments: [nowMicros])
        var counts = JobCountChanges()
        for row in due {
            if let state = JobState(rawValue: row[1]) { counts.move(row[0], from: state, to: .available, count: row[2]) }
        }
        try counts.write(db)
    }

    /// The quota sizes and running counts, or `nil` when no quota exists.
    static func quotaLedger(_ db: Database) throws -> QuotaLedger? {
        var sizes: [String: Int] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT name, size FROM quotas")) {
            sizes[row[0]] = row[1]
        }
        guard !sizes.isEmpty else { return nil }
        var running: [String: Int] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT quota, COUNT(*) FROM quota_holders GROUP BY quota")) {
            running[row[0]] = row[1]
        }
        return QuotaLedger(sizes: sizes, running: running)
    }

    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}
