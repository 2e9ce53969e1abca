import GRDB
import SpoolCore

/// The store's versioned schema. Migrations are never edited once released; a change is a new
/// migration appended to the list. Each migration's SQL is literal text (no shared constant a
/// later edit could change), and `MigrationTextTests` holds the checksums of the released ones.
///
/// Migrations run inside one `BEGIN IMMEDIATE` transaction that first reads which ones were
/// applied, so processes opening a fresh store together apply each exactly once.
enum SQLiteSchema {
    /// The ordered migrations: an identifier and the SQL that applies it.
    static let migrations: [(id: String, sql: String)] = [
        // Migrations 1 and 4 are the released text byte for byte, uneven indentation included.
        ("1-jobs", """
                CREATE TABLE jobs (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    queue TEXT NOT NULL, name TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL, priority INTEGER NOT NULL,
                attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL, run_at INTEGER NOT NULL, created_at INTEGER NOT NULL,
                started_at INTEGER, finished_at INTEGER, quotas TEXT, tags TEXT, unique_key TEXT, timeout_ms INTEGER,
                dispatcher TEXT, lease_until INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0, result TEXT, errors TEXT
                );
                CREATE INDEX jobs_available_fifo ON jobs(run_at, seq) WHERE state = 'available';
                CREATE INDEX jobs_available_priority ON jobs(priority, run_at, seq) WHERE state = 'available';
                CREATE INDEX jobs_due ON jobs(run_at) WHERE state IN ('scheduled', 'retryable');
                CREATE INDEX jobs_running ON jobs(dispatcher) WHERE state = 'running';
                CREATE UNIQUE INDEX jobs_unique_key ON jobs(unique_key)
                    WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'discarded', 'cancelled');
                CREATE TABLE queues (
                    name TEXT PRIMARY KEY,
                    paused INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE quotas (
                    name TEXT PRIMARY KEY,
                    size INTEGER NOT NULL
                );
                CREATE TABLE quota_holders (
                    quota TEXT NOT NULL,
                    job_id TEXT NOT NULL
                );
                CREATE INDEX quota_holders_job ON quota_holders(job_id);
                CREATE TABLE dispatchers (
                    id TEXT PRIMARY KEY,
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    started_at INTEGER NOT NULL,
                    last_ping INTEGER NOT NULL,
                    agents TEXT NOT NULL
                );
                CREATE TABLE cron (
                    name TEXT PRIMARY KEY,
                    last_tick INTEGER NOT NULL
                );
                """),
        ("2-messages", """
            CREATE TABLE messages (
                seq INTEGER PRIMARY KEY,
                destination TEXT NOT NULL,
                id TEXT NOT NULL,
                headers TEXT NOT NULL,
                body BLOB NOT NULL,
                available_at INTEGER NOT NULL,
                deliveries INTEGER NOT NULL DEFAULT 0,
                leased_until INTEGER,
                holder TEXT
            );
            CREATE INDEX messages_ready ON messages(destination, available_at, seq);
            CREATE INDEX messages_holder ON messages(holder) WHERE holder IS NOT NULL;
            """),
        ("3-priority-index", """
            DROP INDEX jobs_available_priority;
            CREATE INDEX jobs_available_priority ON jobs(priority, run_at, seq) WHERE state = 'available' AND priority != 0;
            """),
        // A job's row number becomes its id's first 64 bits (JobID.sequenceKey), so finding a job
        // by id needs no index of its own, and an insert writes one b-tree fewer. Rows written
        // before keep their numbers (all below 2^32) and get a partial index on id.
        ("4-seq-from-id", """
            CREATE TABLE jobs_keyed (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL,
                queue TEXT NOT NULL, name TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL, priority INTEGER NOT NULL,
            attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL, run_at INTEGER NOT NULL, created_at INTEGER NOT NULL,
            started_at INTEGER, finished_at INTEGER, quotas TEXT, tags TEXT, unique_key TEXT, timeout_ms INTEGER,
            dispatcher TEXT, lease_until INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0, result TEXT, errors TEXT
            );
            INSERT INTO jobs_keyed SELECT * FROM jobs;
            DROP TABLE jobs;
            ALTER TABLE jobs_keyed RENAME TO jobs;
            CREATE INDEX jobs_available_fifo ON jobs(run_at, seq) WHERE state = 'available';
            CREATE INDEX jobs_available_priority ON jobs(priority, run_at, seq) WHERE state = 'available' AND priority != 0;
            CREATE INDEX jobs_due ON jobs(run_at) WHERE state IN ('scheduled', 'retryable');
            CREATE INDEX jobs_running ON jobs(dispatcher) WHERE state = 'running';
            CREATE UNIQUE INDEX jobs_unique_key ON jobs(unique_key)
                WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'discarded', 'cancelled');
            CREATE INDEX jobs_legacy_id ON jobs(id) WHERE seq < 4294967296;
            """),
        // Every job that reaches a terminal state gets the next number of the 'job_end' counter,
        // in commit order, so a process can read what ended after the number it last saw.
        ("5-job-ends", """
            ALTER TABLE jobs ADD COLUMN end_seq INTEGER;
            CREATE INDEX jobs_ended ON jobs(end_seq) WHERE end_seq IS NOT NULL;
            CREATE TABLE spool_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO spool_counters (name, value) VALUES ('job_end', 0);
            """),
        // The table queue's ordering keys (x-spool-order-keys): a message is taken only once no
        // earlier message of its destination with one of its keys is left.
        ("6-message-order-keys", """
            CREATE TABLE message_keys (destination TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL,
                                       PRIMARY KEY (destination, key, seq)) WITHOUT ROWID;
            CREATE INDEX message_keys_seq ON message_keys(seq);
            ALTER TABLE messages ADD COLUMN ordered INTEGER NOT NULL DEFAULT 0;
            """),
        // Retention deletes each terminal state's oldest jobs first, walking this index from its start.
        ("7-finished-index", """
            CREATE INDEX jobs_finished ON jobs(state, finished_at) WHERE end_seq IS NOT NULL;
            """),
        // How many jobs each queue holds in each state, changed by every statement that changes
        // jobs, in its transaction (JobCountChanges): counting needs no scan.
        ("8-job-counts", """
            CREATE TABLE job_counts (queue TEXT NOT NULL, state TEXT NOT NULL, count INTEGER NOT NULL,
                                     PRIMARY KEY (queue, state)) WITHOUT ROWID;
            INSERT INTO job_counts (queue, state, count) SELECT queue, state, COUNT(*) FROM jobs GROUP BY queue, state;
            """),
        // The trace context of the code that enqueued a job (JobTracing), as a JSON object's text.
        ("9-trace-context", """
            ALTER TABLE jobs ADD COLUMN trace_context TEXT;
            """),
        // A receive walks its destination's messages in publish order and stops after the first
        // few it can take, reading only the index (before, it read every ready message of the
        // destination and sorted them: a receive cost as much as the backlog was long). It reads
        // its candidates' ordering keys in one walk of the destination's keys in publish order,
        // and asks whether anything earlier holds keys with one seek (TableQueue). The key index's
        // entries are as large as before: the table's key columns were in them already.
        ("10-messages-in-order", """
            DROP INDEX messages_ready;
            CREATE INDEX messages_in_order ON messages(destination, seq, available_at, leased_until, ordered);
            DROP INDEX message_keys_seq;
            CREATE INDEX message_keys_in_order ON message_keys(destination, seq);
            """),
        // Jobs that ended before migration 5 get end number 0 (no process follows ends from
        // before 1), so that every finished job is in jobs_finished: a listing of a finished state
        // with few jobs reads them from there (SQLiteStore.listing), and retention reaches them.
        ("11-ends-before-numbers", """
            UPDATE jobs SET end_seq = 0 WHERE end_seq IS NULL AND state IN ('completed', 'discarded', 'cancelled');
            """),
    ]

    /// Applies missing migrations; refuses a file that a newer Spool migrated further.
    /// Checks, without writing, that the store at `path` has exactly the migrations this Spool
    /// knows: for a copy kept by a secondary, which its primary's processes migrate.
    static func check(_ pool: DatabasePool, path: String) throws {
        let applied = try pool.read { db -> Set<String>? in
            guard try db.tableExists("spool_migrations") else { return nil }
            return Set(try String.fetchAll(db, sql: "SELECT id FROM spool_migrations"))
        }
        guard let applied else {
            throw SpoolError(.storeUnavailable, "store \(path) is a copy that has no Spool store yet: its secondary has not received the primary's snapshot")
        }
        let unknown = applied.subtracting(migrations.map(\.id)).sorted()
        guard unknown.isEmpty else {
            throw SpoolError(.storeTooNew, "store \(path) was written by a newer Spool (schema \(unknown.joined(separator: ", "))); upgrade spool to open it")
        }
        let missing = migrations.map(\.id).filter { !applied.contains($0) }
        guard missing.isEmpty else {
            throw SpoolError(.storeUnavailable, "store \(path) is a copy of a store an older Spool wrote (it lacks schema \(missing.joined(separator: ", "))); open the primary with this Spool first")
        }
    }

    /// Makes the file give freed pages back (`auto_vacuum = INCREMENTAL`, which retention's
    /// prunes use): a new file has it from the connection's preparation (``SQLiteStore``, before
    /// the pool switches the file to WAL), and a file made without it is rewritten once with
    /// `VACUUM` (as long as copying the file takes, then never again).
    static func useIncrementalVacuum(_ pool: DatabasePool) throws {
        try pool.writeWithoutTransaction { db in
            guard try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") == 0 else { return }
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master)") == true {
                try db.execute(sql: "VACUUM")
            }
        }
    }

    static func migrate(_ pool: DatabasePool, path: String) throws {
        try pool.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                try db.execute(sql: "CREATE TABLE IF NOT EXISTS spool_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
                let applied = Set(try String.fetchAll(db, sql: "SELECT id FROM spool_migrations"))
                let unknown = applied.subtracting(migrations.map(\.id)).sorted()
                guard unknown.isEmpty else {
                    throw SpoolError(.storeTooNew, "store \(path) was written by a newer Spool (schema \(unknown.joined(separator: ", "))); upgrade spool to open it")
                }
                for migration in migrations where !applied.contains(migration.id) {
                    try db.execute(sql: migration.sql)
                    try db.execute(sql: "INSERT INTO spool_migrations (id, applied_at) VALUES (?, datetime('now'))", arguments: [migration.id])
                }
                return .commit
            }
        }
    }
}
