import GRDB
import SpoolCore

/// The store's versioned schema. Migrations are never edited once released; a change is a new
/// migration appended to the list.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1-jobs") { db in
            try db.execute(sql: """
                CREATE TABLE jobs (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    queue TEXT NOT NULL,
                    name TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    state TEXT NOT NULL,
                    priority INTEGER NOT NULL,
                    attempt INTEGER NOT NULL,
                    max_attempts INTEGER NOT NULL,
                    run_at INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    started_at INTEGER,
                    finished_at INTEGER,
                    quotas TEXT,
                    tags TEXT,
                    unique_key TEXT,
                    timeout_ms INTEGER,
                    dispatcher TEXT,
                    lease_until INTEGER,
                    cancel_requested INTEGER NOT NULL DEFAULT 0,
                    result TEXT,
                    errors TEXT
                );
                CREATE INDEX jobs_available_fifo ON jobs(run_at, seq) WHERE state = 'available';
                CREATE INDEX jobs_available_priority ON jobs(priority, run_at, seq) WHERE state = 'available';
                CREATE INDEX jobs_due ON jobs(run_at) WHERE state IN ('scheduled', 'retryable');
                CREATE INDEX jobs_running ON jobs(dispatcher) WHERE state = 'running';
                CREATE INDEX jobs_queue_state ON jobs(queue, state);
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
                """)
        }
        return migrator
    }

    /// Applies missing migrations; refuses a file that a newer Spool migrated further.
    static func migrate(_ pool: DatabasePool, path: String) throws {
        let migrator = migrator
        let superseded = try pool.read { db in try migrator.hasBeenSuperseded(db) }
        if superseded {
            let applied = try pool.read { db in try migrator.appliedIdentifiers(db) }
            let known = Set(migrator.migrations)
            let unknown = applied.subtracting(known).sorted()
            throw SpoolError(.storeTooNew, "store \(path) was written by a newer Spool (schema \(unknown.joined(separator: ", "))); upgrade spool to open it")
        }
        try migrator.migrate(pool)
    }
}
