import Foundation
import GRDB
import SpoolCore

extension SQLiteStore {
    public func insert(_ jobs: [NewJob], now: Date) async throws -> [InsertResult] {
        for job in jobs { try job.validate(limits) }
        let now = SQLiteRows.truncate(now)
        let results = try await write { db in try SQLiteStore.insert(jobs, now: now, db: db) }
        let queues = Set(results.lazy.filter { $0.inserted && $0.job.state == .available }.map(\.job.queue))
        if !queues.isEmpty { hub.publish(.jobsAvailable(queues: queues.sorted())) }
        try await acknowledged()
        return results
    }

    static func insert(_ jobs: [NewJob], now: Date, db: Database) throws -> [InsertResult] {
        if jobs.contains(where: { !$0.quotas.isEmpty }) {
            let known = Set(try String.fetchAll(db.cachedStatement(sql: "SELECT name FROM quotas")))
            for job in jobs {
                if let unknown = job.quotas.first(where: { !known.contains($0) }) { throw SpoolError.unknownQuota(unknown) }
            }
        }
        let statement = BoundStatement(try db.cachedStatement(sql: """
            INSERT INTO jobs (id, queue, name, payload, state, priority, attempt, max_attempts, run_at, created_at,
                              quotas, tags, unique_key, timeout_ms, seq, trace_context)
            VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (seq) DO NOTHING
            """), in: db)
        var random = SeededRandom()
        var results: [InsertResult] = []
        results.reserveCapacity(jobs.count)
        var keyed: [String: Job] = [:]
        var counts = JobCountChanges()
        let nowMicros = SQLiteRows.micros(now)
        for new in jobs {
            if let key = new.uniqueKey {
                if let existing = try keyed[key] ?? existingJob(uniqueKey: key, db: db) {
                    results.append(InsertResult(job: existing, inserted: false))
                    continue
                }
            }
            var job = Job(new: new, id: JobID.make(at: now, using: &random), now: now)
            let runAt = new.runAt.map(SQLiteRows.micros) ?? nowMicros
            if new.runAt != nil { job.runAt = SQLiteRows.date(runAt) }
            statement.bind(1, job.id)
            statement.bind(2, job.queue)
            statement.bind(3, job.name)
            statement.bind(4, job.payload.text)
            statement.bind(5, job.state.rawValue)
            statement.bind(6, job.priority)
            statement.bind(7, job.maxAttempts)
            statement.bind(8, runAt)
            statement.bind(9, nowMicros)
            statement.bind(10, SQLiteRows.text(job.quotas))
            statement.bind(11, SQLiteRows.text(job.tags))
            statement.bind(12, job.uniqueKey)
            statement.bind(13, job.timeout.map { Int64($0.seconds * 1000) })
            // The row number is the id's first 64 bits (JobKeys). Another process may have
            // made ids with the same first half in the same milliseconds: then this process's ids
            // skip past the highest row number, and the job takes a new id.
            statement.bind(14, job.id.sequenceKey)
            statement.bind(15, job.traceContext.storedText)
            var tries = 0
            while try statement.execute() == 0 {
                tries += 1
                guard tries < 10 else { throw SpoolError(.storeUnavailable, "no free row for job \(job.id) after 10 ids") }
                JobID.skip(past: try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM jobs")) ?? 0)
                job.id = JobID.make(at: now, using: &random)
                statement.bind(1, job.id)
                statement.bind(14, job.id.sequenceKey)
            }
            if let key = job.uniqueKey { keyed[key] = job }
            counts.add(1, job.queue, job.state)
            results.append(InsertResult(job: job, inserted: true))
        }
        try counts.write(db)
        return results
    }

    private static func existingJob(uniqueKey: String, db: Database) throws -> Job? {
        let statement = try db.cachedStatement(sql: """
            SELECT \(SQLiteRows.jobColumns) FROM jobs
            WHERE unique_key = ? AND state NOT IN ('completed', 'discarded', 'cancelled')
            """)
        return try Row.fetchOne(statement, arguments: [uniqueKey]).map(SQLiteRows.job)
    }

    static func fetchJob(_ id: JobID, keys: JobKeys, db: Database) throws -> Job? {
        let statement = try db.cachedStatement(sql: "SELECT \(SQLiteRows.jobColumns) FROM jobs WHERE \(keys.condition)")
        return try Row.fetchOne(statement, arguments: StatementArguments(keys.arguments(id))).map(SQLiteRows.job)
    }

    static func requireJob(_ id: JobID, keys: JobKeys, db: Database) throws -> Job {
        guard let job = try fetchJob(id, keys: keys, db: db) else { throw SpoolError(.jobNotFound, "no job with id \(id)") }
        return job
    }

    public func job(_ id: JobID) async throws -> Job? {
        let keys = self.keys
        return try read { db in try SQLiteStore.fetchJob(id, keys: keys, db: db) }
    }

    public func jobs(_ query: JobQuery) async throws -> JobPage {
        let limit = max(0, query.limit)
        let keys = self.keys
        let jobs = try read { db in
            let fromIndex = try query.state.map { try SQLiteStore.fewJobs(in: $0, db: db) } ?? false
            let (sql, arguments) = SQLiteStore.listing(query, keys: keys, fromStateIndex: fromIndex)
            return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(arguments)).map(SQLiteRows.job)
        }
        let page = Array(jobs.prefix(limit))
        return JobPage(jobs: page, nextCursor: jobs.count > limit ? page.last?.id : nil)
    }

    /// How many jobs of one state a listing sorts, at most, rather than walk the table for them.
    static let sortedListingLimit = 10_000

    /// Whether the store holds at most ``sortedListingLimit`` jobs in `state` (from the counts, no scan).
    static func fewJobs(in state: JobState, db: Database) throws -> Bool {
        let count = try Int.fetchOne(db.cachedStatement(sql: "SELECT coalesce(sum(count), 0) FROM job_counts WHERE state = ?"),
                                     arguments: [state.rawValue]) ?? 0
        return count <= sortedListingLimit
    }

    /// The statement behind ``jobs(_:)``: a page of `query`'s jobs, newest first by row number
    /// (which orders jobs like their ids, see ``JobKeys``), one more than the page's size.
    ///
    /// Newest first is a walk of the table from its end that stops once the page is full: quick
    /// for the states most jobs are in, but jobs of a state few jobs are in would be looked for
    /// through every newer job. With `fromStateIndex` (the state holds at most ``sortedListingLimit``) they
    /// are read from the partial index that holds that state's jobs and sorted: `jobs_running`,
    /// `jobs_due`, `jobs_finished` or `jobs_available_fifo`, whose condition the statement repeats
    /// word for word, as SQLite uses a partial index only then.
    static func listing(_ query: JobQuery, keys: JobKeys, fromStateIndex: Bool) -> (sql: String, arguments: [(any DatabaseValueConvertible)?]) {
        var source = "jobs"
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let queue = query.queue { conditions.append("queue = ?"); arguments.append(queue) }
        if let state = query.state {
            if fromStateIndex {
                let (index, condition) = switch state {
                case .available: ("jobs_available_fifo", "state = 'available'")
                case .running: ("jobs_running", "state = 'running'")
                case .scheduled, .retryable: ("jobs_due", "state IN ('scheduled', 'retryable') AND state = '\(state.rawValue)'")
                case .completed, .discarded, .cancelled: ("jobs_finished", "end_seq IS NOT NULL AND state = '\(state.rawValue)'")
                }
                source = "jobs INDEXED BY \(index)"
                conditions.append(condition)
            } else {
                conditions.append("state = ?"); arguments.append(state.rawValue)
            }
        }
        if let name = query.name { conditions.append("name = ?"); arguments.append(name) }
        if let after = query.after {
            conditions.append("seq < coalesce((SELECT seq FROM jobs WHERE \(keys.condition)), ?)")
            arguments += keys.arguments(after) + [after.sequenceKey]
        }
        arguments.append(max(0, query.limit) + 1)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return ("SELECT \(SQLiteRows.jobColumns) FROM \(source) \(filter) ORDER BY seq DESC LIMIT ?", arguments)
    }

    public func cancel(_ id: JobID, now: Date) async throws -> Job {
        let keys = self.keys
        let now = SQLiteRows.truncate(now)
        let job = try await write { db in
            var job = try SQLiteStore.requireJob(id, keys: keys, db: db)
            if job.state == .running {
                try db.execute(sql: "UPDATE jobs SET cancel_requested = 1 WHERE \(keys.condition)",
                               arguments: StatementArguments(keys.arguments(id)))
                job.cancelRequested = true
            } else if job.state.isWaiting {
                try db.execute(sql: "UPDATE jobs SET state = 'cancelled', finished_at = ?, end_seq = ? WHERE \(keys.condition)",
                               arguments: StatementArguments([SQLiteRows.micros(now), try JobEnds.reserve(1, db: db)] + keys.arguments(id)))
                var counts = JobCountChanges()
                counts.move(job.queue, from: job.state, to: .cancelled)
                try counts.write(db)
                job.state = .cancelled
                job.finishedAt = now
            }
            return job
        }
        switch job.state {
        case .running: hub.publish(.cancelRequested(id))
        case .cancelled: hub.publish(.jobsFinished([id: .cancelled]))
        default: break
        }
        return job
    }

    public func delete(_ ids: [JobID]) async throws -> [JobID] {
        let keys = self.keys
        return try await write { db in
            let statement = try db.cachedStatement(sql: """
                DELETE FROM jobs WHERE \(keys.condition) AND state IN ('completed', 'discarded', 'cancelled') RETURNING queue, state
                """)
            var counts = JobCountChanges()
            let deleted = try ids.filter { id in
                guard let row = try Row.fetchOne(statement, arguments: StatementArguments(keys.arguments(id))) else { return false }
                if let state = JobState(rawValue: row[1]) { counts.add(-1, row[0], state) }
                return true
            }
            try counts.write(db)
            return deleted
        }
    }

    public func retry(_ id: JobID, now: Date) async throws -> Job {
        let keys = self.keys
        let now = SQLiteRows.truncate(now)
        let job = try await write { db in
            var job = try SQLiteStore.requireJob(id, keys: keys, db: db)
            if job.state.isTerminal, let key = job.uniqueKey, let holder = try String.fetchOne(db, sql: """
                SELECT id FROM jobs WHERE unique_key = ? AND state NOT IN ('completed', 'discarded', 'cancelled')
                """, arguments: [key]) {
                throw SpoolError.uniqueKeyHeld(id, key: key, holder: holder)
            }
            let before = job.state
            try job.retry(now: now)
            var counts = JobCountChanges()
            counts.move(job.queue, from: before, to: job.state)
            try counts.write(db)
            try db.execute(sql: """
                UPDATE jobs SET state = 'available', run_at = ?, finished_at = NULL, end_seq = NULL, cancel_requested = 0, max_attempts = ?
                WHERE \(keys.condition)
                """, arguments: StatementArguments([SQLiteRows.micros(now), job.maxAttempts] + keys.arguments(id)))
            return job
        }
        hub.publish(.jobsAvailable(queues: [job.queue]))
        return job
    }

    public func setQuotas(_ id: JobID, quotas: [String]) async throws -> Job {
        let keys = self.keys
        return try await write { db in
            var job = try SQLiteStore.requireJob(id, keys: keys, db: db)
            guard job.state.isWaiting else {
                throw SpoolError(.invalidState, "job \(id) is \(job.state); only a waiting job's quotas can change")
            }
            let known = Set(try String.fetchAll(db, sql: "SELECT name FROM quotas"))
            if let unknown = quotas.first(where: { !known.contains($0) }) { throw SpoolError.unknownQuota(unknown) }
            try db.execute(sql: "UPDATE jobs SET quotas = ? WHERE \(keys.condition)",
                           arguments: StatementArguments([SQLiteRows.text(quotas)] + keys.arguments(id)))
            job.quotas = quotas
            return job
        }
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
            var counts = JobCountChanges()
            for id in ids {
                let arguments = [SQLiteRows.micros(now)] + keys.arguments(id) + [SQLiteRows.uuid(dispatcher)]
                if let queue = try String.fetchOne(release, arguments: StatementArguments(arguments)) {
                    queues.insert(queue)
                    counts.move(queue, from: .running, to: .available)
                    try db.execute(sql: "DELETE FROM quota_holders WHERE job_id = ?", arguments: [id.description])
                }
            }
            try counts.write(db)
            return queues
        }
        if !queues.isEmpty { hub.publish(.jobsAvailable(queues: queues.sorted())) }
    }
}

extension SQLiteStore {
    /// Pages a prune hands back to the file system after each batch, at most: the file shrinks
    /// as jobs go, without one long vacuum holding the write lock.
    static let vacuumPagesPerPrune = 512

    public func prune(_ request: PruneRequest) async throws -> PruneOutcome {
        try request.validate()
        // `end_seq IS NOT NULL` as written lets SQLite use the partial index jobs_finished.
        let choose = """
            SELECT seq FROM jobs WHERE end_seq IS NOT NULL AND state = ? AND finished_at < ? ORDER BY finished_at LIMIT ?
            """
        let arguments: StatementArguments = [request.state.rawValue, SQLiteRows.micros(request.finishedBefore), request.limit]
        if request.dryRun {
            let started = ContinuousClock.now
            let count = try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (\(choose))", arguments: arguments) ?? 0 }
            return PruneOutcome(deleted: count, held: ContinuousClock.now - started)
        }
        let state = request.state
        return try await write { db in
            let started = ContinuousClock.now
            var counts = JobCountChanges(), deleted = 0
            for queue in try String.fetchAll(db, sql: "DELETE FROM jobs WHERE seq IN (\(choose)) RETURNING queue", arguments: arguments) {
                counts.add(-1, queue, state)
                deleted += 1
            }
            try counts.write(db)
            if deleted > 0 { try db.execute(sql: "PRAGMA incremental_vacuum(\(SQLiteStore.vacuumPagesPerPrune))") }
            // The commit that follows is not counted: with WAL it appends the pages just written.
            return PruneOutcome(deleted: deleted, held: ContinuousClock.now - started)
        }
    }
}
