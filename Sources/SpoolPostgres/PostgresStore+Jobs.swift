import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    public func insert(_ jobs: [NewJob], now: Date) async throws -> [InsertResult] {
        for job in jobs { try job.validate(limits) }
        let now = PostgresRows.truncate(now)
        let (schema, logger) = (self.schema, self.logger)
        // One statement, atomic without an explicit transaction: one round trip per call. It
        // sends the NOTIFY itself only when this store announced nothing a moment ago (the plain
        // insert then also names the queues of enqueues waiting to be announced); otherwise the
        // announcement follows the commit, merged with others (PostgresAnnouncer).
        let plainly = Self.insertsPlainly(jobs)
        let folded = announcer.mayNotifyInStatement(folding: plainly)
        let notifying = folded != nil
        let results: [InsertResult]
        do {
            results = try await read(onItsEventLoop: jobs.count <= 16) { connection in
                plainly ? try await PostgresStore.insertPlainly(jobs, now: now, schema: schema, notifying: notifying, also: folded ?? [],
                                                                on: connection, logger: logger)
                    : try await PostgresStore.insert(jobs, now: now, schema: schema, prepared: true, notifying: notifying, on: connection, logger: logger)
            }
        } catch {
            if let folded { announcer.announce(folded) }
            throw error
        }
        publishAvailable(results)
        if !notifying { announcer.announce(Self.availableQueues(results)) }
        forgetClaimFloors(before: jobs, now: now)
        return results
    }

    /// Makes the next claims look from the front when one of `jobs` runs before `now`: it may
    /// come ahead of where they would begin (``ClaimFloors``).
    func forgetClaimFloors(before jobs: [NewJob], now: Date) {
        if jobs.contains(where: { $0.runAt.map { $0 < now } ?? false }) { claimFloors.forget() }
    }

    /// Enqueues `jobs` on the application's own connection, inside the transaction it has open
    /// there: the jobs exist if and only if that transaction commits.
    ///
    /// The connection must reach the store's database; the jobs go to the store's schema. Run it
    /// inside a transaction, such as PostgresNIO's `withTransaction` (outside one, the jobs are
    /// committed at once). Dispatchers learn of the jobs from the NOTIFY this sends, which
    /// PostgreSQL delivers when the transaction commits, and from their polls.
    ///
    /// ```swift
    /// let store = try await PostgresStore(url: "postgres://app@db.internal/shop?schema=spool")
    /// try await client.withTransaction(logger: logger) { connection in
    ///     try await connection.query("INSERT INTO orders (id, total) VALUES (\(orderID), \(total))", logger: logger)
    ///     try await store.enqueue([NewJob(name: "mail.receipt", payload: try JSONPayload(encoding: Receipt(order: orderID)))],
    ///                             on: connection)
    /// }   // a rolled-back order leaves no receipt job behind
    /// ```
    ///
    /// Throws as ``insert(_:now:)`` does (an invalid job or an unknown quota inserts nothing); a
    /// unique key held by a job that is not finished returns that job with `inserted == false`.
    @discardableResult
    public func enqueue(_ jobs: [NewJob], on connection: PostgresConnection, now: Date = Date()) async throws -> [InsertResult] {
        for job in jobs { try job.validate(limits) }
        forgetClaimFloors(before: jobs, now: now)
        do {
            return try await PostgresStore.insert(jobs, now: PostgresRows.truncate(now), schema: schema, prepared: false,
                                                  on: connection, logger: logger)
        } catch {
            throw PostgresStore.translate(error, location: location)
        }
    }

    /// Announces the queues that gained available jobs.
    func publishAvailable(_ results: [InsertResult]) {
        let queues = Self.availableQueues(results)
        if !queues.isEmpty { events.publish(.jobsAvailable(queues: queues.sorted())) }
    }

    /// The queues in which `results` made jobs available.
    static func availableQueues(_ results: [InsertResult]) -> Set<String> {
        Set(results.lazy.filter { $0.inserted && $0.job.state == .available }.map(\.job.queue))
    }

    /// Inserts `jobs` on `connection`, inside the caller's transaction, in one statement: the
    /// quota check, the insert, the lookup of jobs holding the same unique keys and, when
    /// `notifying`, the NOTIFY (delivered when the caller's transaction commits).
    /// Nothing is inserted when a job names an unknown quota. A unique key held by a job that
    /// another transaction committed during the statement costs a second query. `prepared`
    /// runs it as a prepared statement: only outside an explicit transaction, on a pooled connection.
    ///
    /// A job whose key another process's job took (``SpoolCore/JobID/sequenceKey``) is not
    /// inserted by the statement; it gets a new id past the highest key and goes in by another
    /// statement, in the same transaction.
    static func insert(_ jobs: [NewJob], now: Date, schema: PostgresSchema, prepared: Bool, notifying: Bool = true,
                       on connection: PostgresConnection, logger: Logger) async throws -> [InsertResult] {
        var results = [InsertResult?](repeating: nil, count: jobs.count)
        var pending = Array(jobs.indices)
        for _ in 0..<PostgresStore.insertTries where !pending.isEmpty {
            let outcomes = try await insertOnce(pending.map { jobs[$0] }, now: now, schema: schema, prepared: prepared, notifying: notifying,
                                                on: connection, logger: logger)
            for (position, outcome) in zip(pending, outcomes) { results[position] = outcome }
            pending = pending.filter { results[$0] == nil }
            if !pending.isEmpty { try await skipPastKeys(schema: schema, on: connection, logger: logger) }
        }
        guard pending.isEmpty else { throw keysTaken(pending.count) }
        return results.compactMap { $0 }
    }

    /// How many statements an insert tries before it gives up on finding free keys.
    static let insertTries = 10

    /// The error of an insert whose `count` jobs found their keys taken ``insertTries`` times.
    static func keysTaken(_ count: Int) -> SpoolError {
        SpoolError(.storeUnavailable, "\(count) jobs found their keys taken by other processes' jobs \(insertTries) times; nothing of them was inserted")
    }

    /// Makes the ids this process makes from now on order after every job's key in the store.
    static func skipPastKeys(schema: PostgresSchema, on connection: PostgresConnection, logger: Logger) async throws {
        let highest = try await connection.query("SELECT max(seq) FROM \(unescaped: schema.jobs)", logger: logger)
            .decode(Int64?.self).first { _ in true } ?? nil
        JobID.skip(past: highest ?? 0)
    }

    /// One statement of ``insert(_:now:schema:prepared:notifying:on:logger:)``: for each job, its
    /// result, or `nil` when its key was taken.
    private static func insertOnce(_ jobs: [NewJob], now: Date, schema: PostgresSchema, prepared: Bool, notifying: Bool,
                                   on connection: PostgresConnection, logger: Logger) async throws -> [InsertResult?] {
        guard !jobs.isEmpty else { return [] }
        let built = Self.built(jobs, now: now)
        let named = Set(jobs.flatMap(\.quotas)).sorted()
        let ids = built.map(\.id.description)
        var binds = PostgresBindings()
        Self.appendLeadingColumns(of: built, to: &binds)
        binds.append(built.map { $0.quotas.isEmpty ? "[]" : JSONValue.array($0.quotas.map(JSONValue.string)).compactText })
        binds.append(built.map(Self.tagsText))
        binds.append(built.map { $0.uniqueKey ?? "" })
        binds.append(built.map(Self.timeoutMilliseconds))
        binds.append(named)
        binds.append(PostgresRows.micros(now))
        binds.append(schema.channel)
        binds.append(PostgresSchema.queuePayloads(Set(built.lazy.filter { $0.state == .available }.map(\.queue)).sorted()))
        binds.append(Set(built.compactMap(\.uniqueKey)).sorted())
        binds.append(built.map { $0.traceContext.storedText ?? "" })
        binds.append(built.map(\.id.sequenceKey))
        let rows = switch (prepared, notifying) {
        case (true, true): try await connection.rows(InsertStatement.self, binds, logger: logger)
        case (true, false): try await connection.rows(QuietInsertStatement.self, binds, logger: logger)
        case (false, _): try await connection.rows(PostgresQuery(unsafeSQL: insertSQL(schema, notifying: notifying), binds: binds), logger: logger)
        }

        guard let summary = rows.first else { throw SpoolError(.storeUnavailable, "the insert of \(jobs.count) jobs returned nothing") }
        let known = Set(try summary[JobRowLayout.all.count].decode([String].self))
        if known.count != named.count {
            for job in jobs {
                if let unknown = job.quotas.first(where: { !known.contains($0) }) { throw SpoolError.unknownQuota(unknown) }
            }
        }
        // NULL when every job was inserted: the common case sends no ids back.
        let inserted = try summary[JobRowLayout.all.count + 1].decode([String]?.self).map(Set.init)
        var holders: [String: Job] = [:]
        for row in rows {
            guard try row[0].decode(String?.self) != nil else { continue }
            let job = try PostgresRows.job(row)
            if let key = job.uniqueKey { holders[key] = job }
        }
        // A job not inserted is a unique key's duplicate when the key has a holder, and
        // otherwise one whose key (seq) another job took.
        var results: [InsertResult?] = []
        results.reserveCapacity(built.count)
        var missing: [String] = []
        for (job, id) in zip(built, ids) {
            if inserted?.contains(id) ?? true {
                results.append(InsertResult(job: job, inserted: true))
                if let key = job.uniqueKey { holders[key] = job }
            } else if let key = job.uniqueKey {
                if holders[key] == nil { missing.append(key) }
                results.append(holders[key].map { InsertResult(job: $0, inserted: false) })
            } else {
                results.append(nil)
            }
        }
        guard !missing.isEmpty else { return results }
        for job in try await connection.jobs("""
            SELECT \(unescaped: PostgresRows.jobColumns) FROM \(unescaped: schema.jobs)
            WHERE unique_key = ANY(\(missing)) AND state NOT IN ('completed', 'discarded', 'cancelled')
            """, logger: logger) {
            if let key = job.uniqueKey { holders[key] = job }
        }
        return zip(built, results).map { job, result in
            guard result == nil, let key = job.uniqueKey else { return result }
            return holders[key].map { InsertResult(job: $0, inserted: false) }
        }
    }

    /// The statement behind ``insert(_:now:schema:prepared:notifying:on:logger:)``. Its rows are the jobs that held
    /// one of the unique keys before it ran (one row of NULLs when none did), each followed by
    /// the known quotas among those named, the ids inserted (NULL when every job was), and
    /// whether a NOTIFY was sent. Parameters after the jobs' columns ($1–$12): the quotas named,
    /// now, the channel, the NOTIFY's payloads (the queues gaining available jobs, one per line,
    /// split as PostgreSQL's 8000-byte limit for a notification needs: ``PostgresSchema/queuePayloads(_:)``),
    /// the unique keys named, the jobs' trace contexts ($18, one per job, empty for none) and their
    /// keys ($19, ``SpoolCore/JobID/sequenceKey``). A job whose unique key is held, or whose key
    /// another job took, is not inserted.
    static func insertSQL(_ schema: PostgresSchema, notifying: Bool) -> String {
        let unfinished = "state NOT IN ('completed', 'discarded', 'cancelled')"
        // The rows go from unnest straight into the INSERT, without a sort: the keys (seq) of ids
        // one process made follow the order it made them in (FIFO within one call). Any unique
        // index stops a row (ON CONFLICT without a target): the key's or the unique key's. The
        // lookup of unique keys' holders runs only when there are keys (a one-time filter: a generic plan made while the table
        // was empty scans it whole), and reads the keys through subqueries, which the planner
        // cannot see into: given as a bare parameter, an empty array made one-job inserts look
        // cheaper planned for their values than the generic plan, so every insert was planned
        // anew (four times the cost of running it). Without `notifying` the NOTIFY is there but
        // never sent (a constant false, which the planner drops): the statement keeps its
        // parameters, whose types the server could not infer if $15 and $16 were left out.
        return """
            WITH known AS (
                SELECT coalesce(array_agg(name), '{}') AS names FROM \(schema.quotas) WHERE name = ANY($13::text[])
            ),
            inserted AS (
                INSERT INTO \(schema.jobs) (seq, id, queue, name, payload, state, priority, attempt, max_attempts, run_at,
                                            created_at, quotas, tags, unique_key, timeout_ms, trace_context)
                SELECT seq, id, queue, name, payload, state, priority, 0, max_attempts, run_at, $14::bigint,
                       CASE WHEN quotas = '[]' THEN '{}'::text[] ELSE ARRAY(SELECT json_array_elements_text(quotas::json)) END,
                       CASE WHEN tags = '[]' THEN '{}'::text[] ELSE ARRAY(SELECT json_array_elements_text(tags::json)) END,
                       NULLIF(unique_key, ''), NULLIF(timeout_ms, -1), NULLIF(trace_context, '')
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                            $8::bigint[], $9::text[], $10::text[], $11::text[], $12::bigint[], $18::text[], $19::bigint[])
                    AS input(id, queue, name, payload, state, priority, max_attempts, run_at, quotas, tags, unique_key, timeout_ms,
                             trace_context, seq)
                WHERE (SELECT cardinality(names) FROM known) = cardinality($13::text[])
                ON CONFLICT DO NOTHING
                RETURNING id, state
            ),
            counted AS (
                SELECT count(*) AS jobs, count(*) FILTER (WHERE state = 'available') AS available FROM inserted
            ),
            notified AS (
                SELECT pg_notify($15::text, payload) FROM counted, unnest($16::text[]) AS payload
                WHERE \(notifying ? "available > 0" : "false")
            ),
            summary AS (
                SELECT (SELECT names FROM known) AS known,
                       CASE WHEN (SELECT jobs FROM counted) = cardinality($1::text[]) THEN NULL
                            ELSE (SELECT coalesce(array_agg(id), '{}') FROM inserted) END AS ids,
                       (SELECT count(*) FROM notified) AS notified
            )
            SELECT \(PostgresRows.jobColumns(of: "holder")), summary.known, summary.ids, summary.notified
            FROM summary LEFT JOIN (
                SELECT * FROM \(schema.jobs)
                WHERE (SELECT cardinality($17::text[])) > 0 AND unique_key = ANY(coalesce((SELECT $17::text[]), '{}'))
                    AND \(unfinished)
            ) AS holder ON true
            """
    }

    static func fetchJob(_ id: JobID, schema: PostgresSchema, on connection: PostgresConnection, logger: Logger,
                         lock: Bool = false) async throws -> Job? {
        try await connection.jobs("""
            SELECT \(unescaped: PostgresRows.jobColumns) FROM \(unescaped: schema.jobs) WHERE \(job: id, of: schema)
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
        let statement = PostgresStore.listing(query, schema: schema)
        let limit = max(0, query.limit)
        let logger = self.logger
        let jobs = try await read { try await $0.jobs(statement, logger: logger) }
        let page = Array(jobs.prefix(limit))
        return JobPage(jobs: page, nextCursor: jobs.count > limit ? page.last?.id : nil)
    }

    /// The statement behind ``jobs(_:)``: a page of `query`'s jobs, newest first by key (which
    /// orders jobs like their ids, ``SpoolCore/JobID/sequenceKey``), one more than the page's
    /// size; after a job no longer stored, the page goes on below its id's key. The state goes in
    /// as a literal (one of JobState's names) so that the plan can read a state few jobs are in
    /// from its partial index (`spool_jobs_running`, `spool_jobs_unusual_states`) instead of
    /// walking every newer job.
    static func listing(_ query: JobQuery, schema: PostgresSchema) -> PostgresQuery {
        var conditions: [String] = []
        var binds = PostgresBindings()
        func bind(_ column: String, _ comparison: String, _ value: String) {
            binds.append(value)
            conditions.append("\(column) \(comparison) $\(binds.count)")
        }
        if let queue = query.queue { bind("queue", "=", queue) }
        if let state = query.state { conditions.append("state = '\(state.rawValue)'") }
        if let name = query.name { bind("name", "=", name) }
        if let after = query.after {
            binds.append(after.description)
            binds.append(after.sequenceKey)
            let (id, key) = ("$\(binds.count - 1)::text", "$\(binds.count)::bigint")
            conditions.append("""
                seq < coalesce((SELECT c.seq FROM \(schema.jobs) AS c WHERE \(schema.keyed(keys: "ARRAY[\(key)]", ids: "ARRAY[\(id)]", as: "c"))), \(key))
                """)
        }
        binds.append(max(0, query.limit) + 1)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return PostgresQuery(unsafeSQL: "SELECT \(PostgresRows.jobColumns) FROM \(schema.jobs) \(filter) ORDER BY seq DESC LIMIT $\(binds.count)",
                             binds: binds)
    }

    public func delete(_ ids: [JobID]) async throws -> [JobID] {
        let (schema, logger) = (self.schema, self.logger)
        let deleted = try await transaction { connection in
            var deleted: Set<String> = []
            for try await id in try await connection.query("""
                DELETE FROM \(unescaped: schema.jobs)
                WHERE \(jobs: ids, of: schema) AND state IN ('completed', 'discarded', 'cancelled') RETURNING id
                """, logger: logger).decode(String.self) { deleted.insert(id) }
            return deleted
        }
        return ids.filter { deleted.contains($0.description) }
    }

    public func prune(_ request: PruneRequest) async throws -> PruneOutcome {
        try request.validate()
        let (schema, logger) = (self.schema, self.logger)
        // The state as a literal (a validated terminal state), so the plan uses the partial index spool_jobs_finished.
        let state = request.state.rawValue, before = PostgresRows.micros(request.finishedBefore), limit = request.limit
        let started = ContinuousClock.now
        if request.dryRun {
            let count = try await read { connection in
                try await connection.query("""
                    SELECT count(*) FROM (SELECT 1 FROM \(unescaped: schema.jobs)
                                          WHERE state = '\(unescaped: state)' AND finished_at < \(before) LIMIT \(limit)) chosen
                    """, logger: logger).decode(Int.self).first { _ in true } ?? 0
            }
            return PruneOutcome(deleted: count, held: ContinuousClock.now - started)
        }
        // PostgreSQL has no store-wide write lock: the transaction's time (the chosen rows' locks,
        // the index and WAL writes) stands in for the time held.
        let deleted = try await transaction { connection in
            try await connection.count("""
                DELETE FROM \(unescaped: schema.jobs) WHERE seq IN (
                    SELECT seq FROM \(unescaped: schema.jobs) WHERE state = '\(unescaped: state)' AND finished_at < \(before)
                    ORDER BY finished_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING 1
                """, logger: logger)
        }
        return PruneOutcome(deleted: deleted, held: ContinuousClock.now - started)
    }

    public func cancel(_ id: JobID, now: Date) async throws -> Job {
        let now = PostgresRows.truncate(now)
        let (schema, logger) = (self.schema, self.logger)
        let job = try await transaction { connection in
            var job = try await PostgresStore.requireJob(id, schema: schema, on: connection, logger: logger)
            if job.state == .running {
                try await connection.query("UPDATE \(unescaped: schema.jobs) SET cancel_requested = true WHERE \(job: id, of: schema)",
                                           logger: logger)
                job.cancelRequested = true
            } else if job.state.isWaiting {
                try await connection.query("""
                    UPDATE \(unescaped: schema.jobs) SET state = 'cancelled', finished_at = \(PostgresRows.micros(now))
                    WHERE \(job: id, of: schema)
                    """, logger: logger)
                try await PostgresStore.announceEnds([id: .cancelled], now: now, schema: schema, on: connection, logger: logger)
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
                WHERE \(job: id, of: schema)
                """, logger: logger)
            try await PostgresStore.notifyAvailable([job.queue], schema: schema, on: connection, logger: logger)
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
            try await connection.query("UPDATE \(unescaped: schema.jobs) SET quotas = \(quotas) WHERE \(job: id, of: schema)",
                                       logger: logger)
            job.quotas = quotas
            return job
        }
    }

    public func release(_ ids: [JobID], dispatcher: UUID, now: Date) async throws {
        let now = PostgresRows.truncate(now)
        let (schema, logger) = (self.schema, self.logger)
        let queues = try await transaction { connection in
            var queues: Set<String> = []
            let released = try await connection.rows("""
                UPDATE \(unescaped: schema.jobs) SET state = 'available', attempt = GREATEST(attempt - 1, 0),
                    run_at = \(PostgresRows.micros(now)), lease_until = NULL, cancel_requested = false
                WHERE \(jobs: ids, of: schema) AND state = 'running' AND dispatcher = \(dispatcher)
                RETURNING id, queue
                """, logger: logger)
            let releasedIDs = try released.map { try $0[0].decode(String.self) }
            for row in released { queues.insert(try row[1].decode(String.self)) }
            if !releasedIDs.isEmpty {
                try await connection.query("DELETE FROM \(unescaped: schema.quotaHolders) WHERE job_id = ANY(\(releasedIDs))",
                                           logger: logger)
                try await PostgresStore.notifyAvailable(queues, schema: schema, on: connection, logger: logger)
            }
            return queues
        }
        if !queues.isEmpty { events.publish(.jobsAvailable(queues: queues.sorted())) }
    }
}
