import Logging
import PostgresNIO
import SpoolCore

/// The store's versioned schema. Migrations are never edited once released; a change is a new
/// migration appended to the list.
///
/// Every table name carries the store's schema, so the same binary serves several schemas of one
/// database. Times are whole microseconds since 1970 (`bigint`), as in the SQLite store.
struct PostgresSchema: Sendable {
    /// The schema's name: a plain identifier, checked by ``PostgresLocation``.
    let name: String
    /// What table names start with: the schema and a dot, or nothing for ``searchPath``.
    private let prefix: String

    init(name: String) {
        self.name = name
        prefix = name + "."
    }

    private init(unqualified: ()) {
        name = ""
        prefix = ""
    }

    /// Table names without a schema, found through the connection's `search_path`: the
    /// store's pooled connections set it to the store's schema, so statements prepared once
    /// for every store (``PostgresStatements``) read the right tables. Its ``channel`` is
    /// meaningless; statements take the channel as a parameter.
    static let searchPath = PostgresSchema(unqualified: ())

    var jobs: String { "\(prefix)spool_jobs" }
    var queues: String { "\(prefix)spool_queues" }
    var quotas: String { "\(prefix)spool_quotas" }
    var quotaHolders: String { "\(prefix)spool_quota_holders" }
    var dispatchers: String { "\(prefix)spool_dispatchers" }
    var cron: String { "\(prefix)spool_cron" }
    /// The table queue's messages (``PostgresTableQueue``).
    var messages: String { "\(prefix)spool_messages" }
    /// The ordering keys of the table queue's messages not yet settled.
    var messageKeys: String { "\(prefix)spool_message_keys" }
    /// The function behind a dispatcher's common step until migration 16
    /// (``finishAndClaimFunction(announcingEnds:tracing:plainCompletions:claimFloor:keyed:byKeyOnly:narrow:)``),
    /// kept for workers of earlier versions.
    var finishAndClaim: String { "\(prefix)spool_finish_and_claim" }
    /// The function behind a dispatcher's common step since migration 16: claimed jobs without
    /// the columns the claim itself wrote.
    var dispatcherStep: String { "\(prefix)spool_dispatcher_step" }
    /// How many jobs each queue holds in each state, as changes (``countJobs`` appends them).
    var jobCounts: String { "\(prefix)spool_job_counts" }
    /// The trigger function that appends each statement's changes of jobs to ``jobCounts``.
    var countJobs: String { "\(prefix)spool_count_jobs" }
    var migrationsTable: String { "\(prefix)spool_migrations" }
    /// The NOTIFY channel that announces new jobs in this schema.
    var channel: String { "spool_jobs_\(name)" }
    /// The NOTIFY channel that announces the ends of jobs while a process follows them: each
    /// notification is a state, then the ids of jobs that reached it, one per line.
    var endsChannel: String { "spool_ended_\(name)" }
    /// The processes following the ends of jobs (``PostgresListener``), each until a time it renews.
    var followers: String { "\(prefix)spool_end_followers" }
    /// At most this many ids go in one notification, well below PostgreSQL's 8000-byte limit.
    static let idsPerEndNotification = 200

    /// The payloads that name `queues` on ``channel``, one per line, each under PostgreSQL's
    /// 8000-byte limit for a notification (a queue's name has at most 200 characters).
    static func queuePayloads(_ queues: [String]) -> [String] {
        var payloads: [String] = []
        var current = ""
        for queue in queues {
            if !current.isEmpty, current.utf8.count + 1 + queue.utf8.count > 7000 {
                payloads.append(current)
                current = ""
            }
            current += current.isEmpty ? queue : "\n" + queue
        }
        if !current.isEmpty { payloads.append(current) }
        return payloads
    }

    /// The ordered migrations: an identifier and its statements.
    var migrations: [(id: String, statements: [String])] {
        [
            ("1-jobs", [
                """
                CREATE TABLE \(jobs) (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    id text NOT NULL UNIQUE,
                    queue text NOT NULL,
                    name text NOT NULL,
                    payload text NOT NULL,
                    state text NOT NULL,
                    priority bigint NOT NULL,
                    attempt bigint NOT NULL,
                    max_attempts bigint NOT NULL,
                    run_at bigint NOT NULL,
                    created_at bigint NOT NULL,
                    started_at bigint,
                    finished_at bigint,
                    quotas text[] NOT NULL DEFAULT '{}',
                    tags text[] NOT NULL DEFAULT '{}',
                    unique_key text,
                    timeout_ms bigint,
                    dispatcher uuid,
                    lease_until bigint,
                    cancel_requested boolean NOT NULL DEFAULT false,
                    result text,
                    errors text[] NOT NULL DEFAULT '{}'
                )
                """,
                "CREATE INDEX spool_jobs_available_fifo ON \(jobs) (run_at, seq) WHERE state = 'available'",
                "CREATE INDEX spool_jobs_available_priority ON \(jobs) (priority, run_at, seq) WHERE state = 'available'",
                "CREATE INDEX spool_jobs_due ON \(jobs) (run_at) WHERE state IN ('scheduled', 'retryable')",
                "CREATE INDEX spool_jobs_running ON \(jobs) (dispatcher) WHERE state = 'running'",
                """
                CREATE UNIQUE INDEX spool_jobs_unique_key ON \(jobs) (unique_key)
                    WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'discarded', 'cancelled')
                """,
                "CREATE TABLE \(queues) (name text PRIMARY KEY, paused boolean NOT NULL DEFAULT false)",
                "CREATE TABLE \(quotas) (name text PRIMARY KEY, size bigint NOT NULL)",
                """
                CREATE TABLE \(quotaHolders) (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    quota text NOT NULL,
                    job_id text NOT NULL
                )
                """,
                "CREATE INDEX spool_quota_holders_job ON \(quotaHolders) (job_id)",
                "CREATE INDEX spool_quota_holders_quota ON \(quotaHolders) (quota)",
                """
                CREATE TABLE \(dispatchers) (
                    id uuid PRIMARY KEY,
                    host text NOT NULL,
                    pid bigint NOT NULL,
                    state text NOT NULL,
                    started_at bigint NOT NULL,
                    last_ping bigint NOT NULL,
                    agents text NOT NULL
                )
                """,
                "CREATE TABLE \(cron) (name text PRIMARY KEY, last_tick bigint NOT NULL)",
            ]),
            // Workers that take only some queues find their jobs without walking other queues' backlog.
            ("2-queue-index", [
                "CREATE INDEX spool_jobs_available_queue ON \(jobs) (queue, run_at, seq) WHERE state = 'available'",
            ]),
            // Completions and the common claim in one call, with plans that always walk an index in
            // order. Ids, queue, quota and key names compare byte by byte ("C"), not by the
            // database's locale: they are keys, and every claim and completion compares them.
            ("3-finish-and-claim", [
                """
                ALTER TABLE \(jobs) ALTER COLUMN id TYPE text COLLATE "C", ALTER COLUMN queue TYPE text COLLATE "C",
                    ALTER COLUMN unique_key TYPE text COLLATE "C"
                """,
                """
                ALTER TABLE \(quotaHolders) ALTER COLUMN quota TYPE text COLLATE "C", ALTER COLUMN job_id TYPE text COLLATE "C"
                """,
                "ALTER TABLE \(queues) ALTER COLUMN name TYPE text COLLATE \"C\"",
                "ALTER TABLE \(quotas) ALTER COLUMN name TYPE text COLLATE \"C\"",
                finishAndClaimFunction(announcingEnds: false),
            ]),
            // Jobs' ends are announced on the ends channel while some process follows them.
            ("4-job-ends", [
                "CREATE TABLE \(followers) (id uuid PRIMARY KEY, until bigint NOT NULL)",
                finishAndClaimFunction(announcingEnds: true),
            ]),
            // The store's own message queue (``PostgresTableQueue``), with ordering keys.
            ("5-messages", [
                """
                CREATE TABLE \(messages) (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    destination text COLLATE "C" NOT NULL,
                    id text NOT NULL,
                    headers text NOT NULL,
                    body bytea NOT NULL,
                    published_at bigint NOT NULL,
                    available_at bigint NOT NULL,
                    deliveries bigint NOT NULL DEFAULT 0,
                    leased_until bigint,
                    holder text,
                    ordered boolean NOT NULL DEFAULT false
                )
                """,
                "CREATE INDEX spool_messages_destination ON \(messages) (destination, seq)",
                "CREATE INDEX spool_messages_holder ON \(messages) (holder) WHERE holder IS NOT NULL",
                """
                CREATE TABLE \(messageKeys) (destination text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, seq bigint NOT NULL,
                                             PRIMARY KEY (destination, key, seq))
                """,
                "CREATE INDEX spool_message_keys_seq ON \(messageKeys) (seq)",
            ]),
            // Retention deletes each terminal state's oldest jobs first, from this index; autovacuum
            // then reclaims the deleted rows a batch at a time instead of after a fifth of the table.
            ("6-retention", [
                """
                CREATE INDEX spool_jobs_finished ON \(jobs) (state, finished_at)
                    WHERE state IN ('completed', 'discarded', 'cancelled')
                """,
                """
                ALTER TABLE \(jobs) SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                                         autovacuum_analyze_scale_factor = 0.02)
                """,
            ]),
            // Counts without a scan: each statement that changes jobs appends, in its own
            // transaction, one row per queue and state it changed (a statement trigger over the
            // changed rows), so writers never wait on a shared counter row; readers sum the rows
            // and fold them together now and then. The table is locked while the count starts.
            ("7-job-counts", [
                "LOCK TABLE \(jobs) IN SHARE ROW EXCLUSIVE MODE",
                """
                CREATE TABLE \(jobCounts) (queue text COLLATE "C" NOT NULL, state text COLLATE "C" NOT NULL, delta bigint NOT NULL)
                """,
                "INSERT INTO \(jobCounts) (queue, state, delta) SELECT queue, state, count(*) FROM \(jobs) GROUP BY queue, state",
                """
                CREATE FUNCTION \(countJobs)() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        INSERT INTO \(jobCounts) (queue, state, delta) SELECT queue, state, count(*) FROM new_jobs GROUP BY queue, state;
                    ELSIF TG_OP = 'DELETE' THEN
                        INSERT INTO \(jobCounts) (queue, state, delta) SELECT queue, state, -count(*) FROM old_jobs GROUP BY queue, state;
                    ELSE
                        INSERT INTO \(jobCounts) (queue, state, delta)
                        SELECT queue, state, sum(delta) FROM (
                            SELECT queue, state, -1 AS delta FROM old_jobs UNION ALL SELECT queue, state, 1 FROM new_jobs
                        ) changes GROUP BY queue, state HAVING sum(delta) <> 0;
                    END IF;
                    RETURN NULL;
                END
                $$
                """,
                """
                CREATE TRIGGER spool_jobs_counted_insert AFTER INSERT ON \(jobs) REFERENCING NEW TABLE AS new_jobs
                    FOR EACH STATEMENT EXECUTE FUNCTION \(countJobs)()
                """,
                """
                CREATE TRIGGER spool_jobs_counted_update AFTER UPDATE ON \(jobs) REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
                    FOR EACH STATEMENT EXECUTE FUNCTION \(countJobs)()
                """,
                """
                CREATE TRIGGER spool_jobs_counted_delete AFTER DELETE ON \(jobs) REFERENCING OLD TABLE AS old_jobs
                    FOR EACH STATEMENT EXECUTE FUNCTION \(countJobs)()
                """,
            ]),
            // The trace context of the code that enqueued a job (JobTracing), as a JSON object's
            // text; the finish-and-claim function returns it with the jobs it claims.
            ("8-trace-context", [
                "ALTER TABLE \(jobs) ADD COLUMN trace_context text",
                """
                DROP FUNCTION \(finishAndClaim)(bigint, text[], uuid[], text[], boolean[], bigint, bigint, uuid, bigint, text[], boolean)
                """,
                finishAndClaimFunction(announcingEnds: true, tracing: true),
            ]),
            // Autovacuum of the jobs table without the cost delay: every claim and completion
            // leaves a dead row version whose index entries claims must step over until vacuum
            // removes them, and at the stock pace one pass over a large table took minutes while
            // they piled up (BENCHMARKS, the soak on PostgreSQL: a 2M-job drain with four workers
            // went from 5,824 to 6,920 jobs/s). The counts table holds only deltas: vacuumed
            // after every few thousand, whatever its size.
            ("9-vacuum-pace", [
                "ALTER TABLE \(jobs) SET (autovacuum_vacuum_cost_delay = 0)",
                """
                ALTER TABLE \(jobCounts) SET (autovacuum_vacuum_cost_delay = 0, autovacuum_vacuum_scale_factor = 0,
                                              autovacuum_vacuum_threshold = 5000)
                """,
            ]),
            // A busy worker's completions (no results, one dispatcher) are one update by id, not a
            // join of the ids with their dispatchers and results.
            ("10-plain-completions", [
                finishAndClaimFunction(announcingEnds: true, tracing: true, plainCompletions: true),
            ]),
            // A claim may begin where the caller's last one did (`p_floor`), past the index entries
            // of jobs claimed since vacuum last ran (BENCHMARKS, the soak on PostgreSQL).
            ("11-claim-floor", [
                """
                DROP FUNCTION \(finishAndClaim)(bigint, text[], uuid[], text[], boolean[], bigint, bigint, uuid, bigint, text[], boolean)
                """,
                finishAndClaimFunction(announcingEnds: true, tracing: true, plainCompletions: true, claimFloor: true),
            ]),
            // Autovacuum of the jobs table back at the server's own pace: with claims beginning at
            // their floor, none waits for vacuum to clear the index's front, and at migration 9's
            // pace vacuum went over a drained table and its nine indexes one pass after another,
            // most of a core (BENCHMARKS, the soak on PostgreSQL: the last tenth of ten million
            // jobs went from 20.7 % to 3.4 % below the first).
            ("12-vacuum-pace", [
                "ALTER TABLE \(jobs) RESET (autovacuum_vacuum_cost_delay)",
            ]),
            // Listing jobs of a state few jobs are in reads them from this index, newest first,
            // instead of walking every newer job or sorting all of that state's (a flood of
            // discarded jobs); jobs on the way from available to completed never enter it, so
            // claims and completions add no entry to it.
            ("13-unusual-states", [
                """
                CREATE INDEX spool_jobs_unusual_states ON \(jobs) (state, id)
                    WHERE state IN ('scheduled', 'retryable', 'discarded', 'cancelled')
                """,
            ]),
            // A job's key is its id's first 64 bits, written by the inserting process, and the id
            // has no index (PostgresSchema+JobKeys): every claim and completion wrote an entry in
            // the id's index, a tenth of a bare claim-and-complete loop's time (BENCHMARKS,
            // "Migration 14: jobs found by key"). Jobs already stored keep their numbers and are
            // found through an index of their ids that new jobs never enter. Listings go newest
            // first by key.
            ("14-keys-from-ids", [
                "ALTER TABLE \(jobs) ALTER COLUMN seq DROP IDENTITY",
                "CREATE INDEX spool_jobs_legacy_id ON \(jobs) (id) WHERE seq < \(PostgresSchema.legacyKeys)",
                "ALTER TABLE \(jobs) DROP CONSTRAINT spool_jobs_id_key",
                "DROP INDEX \(prefix)spool_jobs_unusual_states",
                """
                CREATE INDEX spool_jobs_unusual_states ON \(jobs) (state, seq)
                    WHERE state IN ('scheduled', 'retryable', 'discarded', 'cancelled')
                """,
                """
                DROP FUNCTION \(finishAndClaim)(bigint, text[], uuid[], text[], boolean[], bigint, bigint, uuid, bigint, text[], boolean, bigint[])
                """,
                finishAndClaimFunction(announcingEnds: true, tracing: true, plainCompletions: true, claimFloor: true, keyed: true),
            ]),
            // Plain completions find their jobs by key alone (finishAndClaimFunction's
            // `byKeyOnly`); same parameters and answer, so workers of migration 14 go on.
            ("15-completions-by-key", [
                finishAndClaimFunction(announcingEnds: true, tracing: true, plainCompletions: true, claimFloor: true, keyed: true,
                                       byKeyOnly: true),
            ]),
            // The step answers claimed jobs without the five columns its claim wrote (state,
            // start, dispatcher, lease, cancel request), under a name of its own: workers of
            // migration 15 go on calling the function they know.
            ("16-dispatcher-step", [
                finishAndClaimFunction(announcingEnds: true, tracing: true, plainCompletions: true, claimFloor: true, keyed: true,
                                       byKeyOnly: true, narrow: true),
            ]),
        ]
    }

    /// Applies missing migrations in one transaction under an advisory lock on the schema, so
    /// processes opening a fresh store together apply each exactly once; refuses a schema that a
    /// newer Spool migrated further.
    func migrate(_ connection: PostgresConnection, location: PostgresLocation, logger: Logger) async throws {
        // Up to date, as at almost every open: nothing to lock or create, so a role that may only
        // read and write the tables (README, Deploying) opens the store.
        let before = try await appliedMigrations(connection, logger: logger)
        if let before {
            try refuseUnknown(before, location: location)
            if before.isSuperset(of: migrations.map(\.id)) { return }
        }
        do {
            try await connection.transaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\("spool.migrate." + name)))", logger: logger)
                let exists = try await connection.query("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = \(name))", logger: logger)
                    .decode(Bool.self).first { _ in true } ?? false
                if !exists { try await connection.query("CREATE SCHEMA \(unescaped: name)", logger: logger) }
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS \(unescaped: migrationsTable) (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                    """, logger: logger)
                let applied = try await appliedMigrations(connection, logger: logger) ?? []
                try refuseUnknown(applied, location: location)
                for migration in migrations where !applied.contains(migration.id) {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO \(unescaped: migrationsTable) (id) VALUES (\(migration.id))", logger: logger)
                }
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42501" {
            let missing = migrations.map(\.id).filter { !(before ?? []).contains($0) }
            throw SpoolError(.storeUnavailable, """
                store \(location) needs its schema \(before == nil ? "created" : "upgraded") (\(missing.joined(separator: ", "))), which user \
                '\(location.username)' may not do (\(error.serverInfo?[.message] ?? "permission denied")): open it once as the schema's owner
                """)
        }
    }

    /// The migrations applied to the schema; `nil` when it has no migrations table yet.
    private func appliedMigrations(_ connection: PostgresConnection, logger: Logger) async throws -> Set<String>? {
        let exists = try await connection.query("SELECT to_regclass(\(migrationsTable)) IS NOT NULL", logger: logger)
            .decode(Bool.self).first { _ in true } ?? false
        guard exists else { return nil }
        var applied: Set<String> = []
        for try await id in try await connection.query("SELECT id FROM \(unescaped: migrationsTable)", logger: logger).decode(String.self) {
            applied.insert(id)
        }
        return applied
    }

    /// Refuses a schema with migrations this Spool does not know: a newer Spool wrote it.
    private func refuseUnknown(_ applied: Set<String>, location: PostgresLocation) throws {
        let unknown = applied.subtracting(migrations.map(\.id)).sorted()
        guard unknown.isEmpty else {
            throw SpoolError(.storeTooNew, "store \(location) was written by a newer Spool (schema \(unknown.joined(separator: ", "))); upgrade spool to open it")
        }
    }
}
