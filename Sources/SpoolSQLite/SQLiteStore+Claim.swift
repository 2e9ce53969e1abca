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
        try db.cachedStatement(sql: "UPDATE jobs SET state = 'available' WHERE state IN ('scheduled', 'retryable') AND run_at <= ?")
            .execute(arguments: [nowMicros])
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
        return try chosen.map { entry in
            update.bind(1, nowMicros)
            update.bind(2, dispatcher)
            update.bind(3, leaseMicros)
            update.bind(4, entry.seq)
            try update.execute()
            for name in entry.held { try hold.execute(arguments: [name, entry.job.id.description]) }
            var job = entry.job
            job.claim(by: params.dispatcher, now: now, leaseUntil: lease)
            return job
        }
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

    public func finish(_ finishes: [Finish], now: Date) async throws -> [Bool] {
        try await finishAndClaim(finishes, claims: [], now: now).applied
    }

    /// Records the finishes and runs the claims in one transaction.
    public func finishAndClaim(_ finishes: [Finish], claims: [ClaimParams], now: Date) async throws -> (applied: [Bool], claimed: [[Job]]) {
        let keys = self.keys
        let now = SQLiteRows.truncate(now)
        let limits = self.limits
        let (applied, followUpQueues, claimed) = try await write { db in
            let (applied, followUpQueues) = try SQLiteStore.finish(finishes, now: now, limits: limits, keys: keys, db: db)
            let claimed = try claims.map { params in
                params.limit > 0 ? try SQLiteStore.claim(params, now: SQLiteRows.truncate(params.now), db: db) : []
            }
            return (applied, followUpQueues, claimed)
        }
        if hub.hasSubscribers {
            var finished: [JobID: JobState] = [:]
            for (finish, didApply) in zip(finishes, applied) where didApply { finished[finish.id] = finish.outcome.state(now: now) }
            if !finished.isEmpty { hub.publish(.jobsFinished(finished)) }
            if !followUpQueues.isEmpty { hub.publish(.jobsAvailable(queues: followUpQueues)) }
        }
        return (applied, claimed)
    }

    static func finish(_ finishes: [Finish], now: Date, limits: JobLimits, keys: JobKeys, db: Database) throws -> ([Bool], [String]) {
        let nowMicros = SQLiteRows.micros(now)
        let complete = BoundStatement(try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'completed', result = ?, finished_at = ?, lease_until = NULL, cancel_requested = 0
            WHERE \(keys.condition) AND state = 'running' AND dispatcher = ?
            """), in: db)
        let fail = try db.cachedStatement(sql: """
            UPDATE jobs SET state = ?, run_at = COALESCE(?, run_at), finished_at = ?, lease_until = NULL, cancel_requested = 0,
                            errors = json_insert(COALESCE(errors, '[]'), '$[#]', json(?))
            WHERE \(keys.condition) AND state = 'running' AND dispatcher = ?
            """)
        let snooze = try db.cachedStatement(sql: """
            UPDATE jobs SET state = ?, run_at = ?, attempt = MAX(attempt - 1, 0), lease_until = NULL, cancel_requested = 0
            WHERE \(keys.condition) AND state = 'running' AND dispatcher = ?
            """)
        let hasHolders = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM quota_holders)")) ?? false
        let unhold = try db.cachedStatement(sql: "DELETE FROM quota_holders WHERE job_id = ?")
        var applied: [Bool] = []
        applied.reserveCapacity(finishes.count)
        var followUpQueues: Set<String> = []
        var holders: [UUID: String] = [:]
        for finish in finishes {
            let holder = holders[finish.dispatcher] ?? SQLiteRows.uuid(finish.dispatcher)
            holders[finish.dispatcher] = holder
            switch finish.outcome {
            case .completed(let result, let followUps):
                complete.bind(1, result?.text)
                complete.bind(2, nowMicros)
                complete.bind(keys.bind(finish.id, to: complete, at: 3), holder)
                try complete.execute()
                if db.changesCount == 1, !followUps.isEmpty {
                    do {
                        for new in followUps { try new.validate(limits) }
                        for inserted in try insert(followUps, now: now, db: db) where inserted.inserted {
                            followUpQueues.insert(inserted.job.queue)
                        }
                    } catch {
                        let attempt = try Int.fetchOne(db, sql: "SELECT attempt FROM jobs WHERE \(keys.condition)",
                                                       arguments: StatementArguments(keys.arguments(finish.id))) ?? 0
                        let record = AttemptError(attempt: attempt, name: "FollowUpRejected", type: "error",
                                                  message: "follow-up jobs were refused: \(error)", at: now)
                        try db.execute(sql: """
                            UPDATE jobs SET state = 'discarded', result = NULL,
                                            errors = json_insert(COALESCE(errors, '[]'), '$[#]', json(?))
                            WHERE \(keys.condition)
                            """, arguments: StatementArguments([SQLiteRows.text(record)] + keys.arguments(finish.id)))
                    }
                    applied.append(true)
                    if hasHolders { try unhold.execute(arguments: [finish.id.description]) }
                    continue
                }
            case .failed(let error, let retryAt):
                try fail.execute(arguments: StatementArguments([retryAt == nil ? "discarded" : "retryable", retryAt.map(SQLiteRows.micros),
                                                                retryAt == nil ? nowMicros : nil, SQLiteRows.text(error)]
                                                               + keys.arguments(finish.id) + [holder]))
            case .cancelled(let error):
                try fail.execute(arguments: StatementArguments(["cancelled", nil, nowMicros, SQLiteRows.text(error)]
                                                               + keys.arguments(finish.id) + [holder]))
            case .snoozed(let until):
                try snooze.execute(arguments: StatementArguments([until > now ? "scheduled" : "available", SQLiteRows.micros(until)]
                                                                 + keys.arguments(finish.id) + [holder]))
            }
            let didApply = db.changesCount == 1
            applied.append(didApply)
            if didApply, hasHolders { try unhold.execute(arguments: [finish.id.description]) }
        }
        return (applied, followUpQueues.sorted())
    }

    public func release(_ ids: [JobID], dispatcher: UUID, now: Date) async throws {
        let keys = self.keys
        let now = SQLiteRows.truncate(now)
        let queues = try await write { db in
            let release = try db.cachedStatement(sql: """
                UPDATE jobs SET state = 'available', attempt = MAX(attempt - 1, 0), run_at = ?, lease_until = NULL,
                                cancel_requested = 0
                WHERE \(keys.condition) AND state = 'running' AND dispatcher = ? RETURNING queue
                """)
            var queues: Set<String> = []
            for id in ids {
                let arguments = [SQLiteRows.micros(now)] + keys.arguments(id) + [SQLiteRows.uuid(dispatcher)]
                if let queue = try String.fetchOne(release, arguments: StatementArguments(arguments)) {
                    queues.insert(queue)
                    try db.execute(sql: "DELETE FROM quota_holders WHERE job_id = ?", arguments: [id.description])
                }
            }
            return queues
        }
        if !queues.isEmpty { hub.publish(.jobsAvailable(queues: queues.sorted())) }
    }
}
