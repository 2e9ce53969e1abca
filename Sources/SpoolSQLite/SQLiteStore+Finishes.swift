import Foundation
import GRDB
import SpoolCore

extension SQLiteStore {
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
        if hub.hasSubscribers(to: .jobsFinished) {
            var finished: [JobID: JobState] = [:]
            for (finish, didApply) in zip(finishes, applied) where didApply { finished[finish.id] = finish.outcome.state(now: now) }
            if !finished.isEmpty { hub.publish(.jobsFinished(finished)) }
        }
        if !followUpQueues.isEmpty { hub.publish(.jobsAvailable(queues: followUpQueues)) }
        if !finishes.isEmpty { try? await acknowledged() }
        return (applied, claimed)
    }

    static func finish(_ finishes: [Finish], now: Date, limits: JobLimits, keys: JobKeys, db: Database) throws -> ([Bool], [String]) {
        let nowMicros = SQLiteRows.micros(now)
        let complete = BoundStatement(try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'completed', result = ?, finished_at = ?, end_seq = ?, lease_until = NULL, cancel_requested = 0
            WHERE \(keys.condition) AND state = 'running' AND dispatcher = ?
            """), in: db)
        let fail = try db.cachedStatement(sql: """
            UPDATE jobs SET state = ?, run_at = COALESCE(?, run_at), finished_at = ?, end_seq = ?, lease_until = NULL, cancel_requested = 0,
                            errors = json_insert(COALESCE(errors, '[]'), '$[#]', json(?))
            WHERE \(keys.condition) AND state = 'running' AND dispatcher = ?
            """)
        let snooze = try db.cachedStatement(sql: """
            UPDATE jobs SET state = ?, run_at = ?, attempt = MAX(attempt - 1, 0), lease_until = NULL, cancel_requested = 0
            WHERE \(keys.condition) AND state = 'running' AND dispatcher = ?
            """)
        // The queue of a job whose finish applied, for the counts: a read of the row just written
        // costs less than RETURNING, which buffers its rows in a table of its own per statement.
        let queueOf = BoundStatement(try db.cachedStatement(sql: "SELECT queue FROM jobs WHERE \(keys.condition)"), in: db)
        func queueOfJob(_ id: JobID) throws -> String? {
            keys.bind(id, to: queueOf, at: 1)
            guard try queueOf.step() else { return nil }
            defer { queueOf.reset() }
            return queueOf.text(0)
        }
        let hasHolders = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM quota_holders)")) ?? false
        let unhold = try db.cachedStatement(sql: "DELETE FROM quota_holders WHERE job_id = ?")
        var applied: [Bool] = []
        applied.reserveCapacity(finishes.count)
        var followUpQueues: Set<String> = []
        var holders: [UUID: String] = [:]
        var counts = JobCountChanges()
        let ends = finishes.count { $0.outcome.state(now: now).isTerminal }
        var nextEnd = ends > 0 ? try JobEnds.reserve(ends, db: db) : 0
        func takeEnd() -> Int64 {
            defer { nextEnd += 1 }
            return nextEnd
        }
        for finish in finishes {
            var queue: String?
            let holder = holders[finish.dispatcher] ?? SQLiteRows.uuid(finish.dispatcher)
            holders[finish.dispatcher] = holder
            switch finish.outcome {
            case .completed(let result, let followUps):
                complete.bind(1, result?.text)
                complete.bind(2, nowMicros)
                complete.bind(3, takeEnd())
                complete.bind(keys.bind(finish.id, to: complete, at: 4), holder)
                queue = try complete.execute() == 1 ? try queueOfJob(finish.id) : nil
                if let queue, !followUps.isEmpty {
                    counts.move(queue, from: .running, to: .completed)
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
                        counts.move(queue, from: .completed, to: .discarded)
                    }
                    applied.append(true)
                    if hasHolders { try unhold.execute(arguments: [finish.id.description]) }
                    continue
                }
            case .failed(let error, let retryAt):
                try fail.execute(arguments: StatementArguments([retryAt == nil ? "discarded" : "retryable", retryAt.map(SQLiteRows.micros),
                                                                retryAt == nil ? nowMicros : nil, retryAt == nil ? takeEnd() : nil,
                                                                SQLiteRows.text(error)]
                                                               + keys.arguments(finish.id) + [holder]))
                queue = db.changesCount == 1 ? try queueOfJob(finish.id) : nil
            case .cancelled(let error):
                try fail.execute(arguments: StatementArguments(["cancelled", nil, nowMicros, takeEnd(), SQLiteRows.text(error)]
                                                               + keys.arguments(finish.id) + [holder]))
                queue = db.changesCount == 1 ? try queueOfJob(finish.id) : nil
            case .snoozed(let until):
                try snooze.execute(arguments: StatementArguments([until > now ? "scheduled" : "available", SQLiteRows.micros(until)]
                                                                 + keys.arguments(finish.id) + [holder]))
                queue = db.changesCount == 1 ? try queueOfJob(finish.id) : nil
            }
            if let queue { counts.move(queue, from: .running, to: finish.outcome.state(now: now)) }
            applied.append(queue != nil)
            if queue != nil, hasHolders { try unhold.execute(arguments: [finish.id.description]) }
        }
        try counts.write(db)
        return (applied, followUpQueues.sorted())
    }
}
