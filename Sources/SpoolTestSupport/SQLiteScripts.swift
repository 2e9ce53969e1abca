import Foundation

/// Python programs that use an SQLite file the way another process would: tests of replication
/// use them as writers of a store and as a second opinion on its content.
public enum SQLiteScripts {
    /// A Python process that commits `count` transactions into `path` (WAL; automatic
    /// checkpoints every `checkpointEvery` pages, 0 for none, as Spool's processes leave a
    /// replicated store to the capture): inserts of random-sized rows, some updates and deletes,
    /// with `pause` seconds between commits. Table `tally` keeps, in the same transactions, how
    /// many rows each writer has (the invariant ``reader(_:seconds:)`` checks).
    public static func writer(_ path: String, name: String, count: Int, checkpointEvery: Int = 0, pause: Double = 0) throws -> ChildProcess {
        let script = """
            import random, sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA wal_autocheckpoint=" + sys.argv[4])
            db.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, owner TEXT, body BLOB)")
            db.execute("CREATE TABLE IF NOT EXISTS tally (owner TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            rng = random.Random(sys.argv[2])
            tally = "INSERT INTO tally (owner, n) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET n = n + excluded.n"
            for i in range(int(sys.argv[3])):
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO rows (owner, body) VALUES (?, ?)", (sys.argv[2], rng.randbytes(rng.choice([10, 300, 5000]))))
                db.execute(tally, (sys.argv[2], 1))
                if i % 7 == 3:
                    db.execute("UPDATE rows SET body = ? WHERE id = (SELECT min(id) FROM rows WHERE owner = ?)", (rng.randbytes(50), sys.argv[2]))
                if i % 11 == 5:
                    if db.execute("DELETE FROM rows WHERE id = (SELECT max(id) FROM rows WHERE owner = ?)", (sys.argv[2],)).rowcount:
                        db.execute(tally, (sys.argv[2], -1))
                db.execute("COMMIT")
                if float(sys.argv[5]) > 0:
                    time.sleep(float(sys.argv[5]))
            """
        // Through ChildProcess, as every child of the tests: Foundation's Process reaps children it
        // did not start, and a ChildProcess whose pid was reaped under it could signal a stranger.
        return try ChildProcess.spawn("/usr/bin/env", [MotoServer.python, "-c", script, path, name, "\(count)", "\(checkpointEvery)", "\(pause)"],
                                      environment: ProcessInfo.processInfo.environment, outputPath: "/dev/null")
    }

    /// A Python process that reads the copy at `path` for `seconds`, as an application reading a
    /// secondary would: in each read transaction `quick_check` must say ok and each writer's
    /// rows must number what its `tally` says. It exits 1 naming the first read that failed,
    /// else 0 after printing how many reads it made.
    public static func reader(_ path: String, seconds: Double, output: String) throws -> ChildProcess {
        let script = """
            import sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
            reads, end = 0, time.time() + float(sys.argv[2])
            while time.time() < end:
                db.execute("BEGIN")
                try:
                    check = db.execute("PRAGMA quick_check").fetchone()[0]
                    if check != "ok":
                        sys.exit("read %d: quick_check says %s" % (reads, check))
                    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
                    if "tally" in tables:
                        for owner, n in db.execute("SELECT owner, n FROM tally"):
                            count = db.execute("SELECT count(*) FROM rows WHERE owner = ?", (owner,)).fetchone()[0]
                            if count != n:
                                sys.exit("read %d: %s has %d rows, its tally says %d" % (reads, owner, count, n))
                finally:
                    db.execute("COMMIT")
                reads += 1
            print("reads", reads)
            """
        return try ChildProcess.spawn("/usr/bin/env", [MotoServer.python, "-c", script, path, "\(seconds)"],
                                      environment: ProcessInfo.processInfo.environment, outputPath: output)
    }

    /// `integrity_check` and every row of `rows`, as Python's sqlite3 reads them from `path`
    /// (on a thread of its own: Swift concurrency's few threads stay free for the tests beside it).
    public static func content(_ path: String) async throws -> String {
        try await offPool { try contentBlocking(path) }
    }

    private static func contentBlocking(_ path: String) throws -> String {
        try ChildProcess.run("/usr/bin/env", [MotoServer.python, "-c", """
            import hashlib, sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            print(db.execute("PRAGMA integrity_check").fetchone()[0])
            rows = db.execute("SELECT id, owner, body FROM rows ORDER BY id").fetchall()
            print(len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
            """, path]).output
    }

    /// `integrity_check`, then for each of `tables` its row count and the SHA-256 of every row
    /// in `rowid` order, as Python's sqlite3 reads them from `path`: equal digests mean equal
    /// rows, column by column.
    public static func digest(_ path: String, tables: [String]) async throws -> String {
        try await offPool {
            try ChildProcess.run("/usr/bin/env", [MotoServer.python, "-c", """
                import hashlib, sqlite3, sys
                db = sqlite3.connect(sys.argv[1])
                print(db.execute("PRAGMA integrity_check").fetchone()[0])
                for table in sys.argv[2:]:
                    rows = db.execute("SELECT * FROM " + table + " ORDER BY rowid").fetchall()
                    print(table, len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
                """, path] + tables).output
        }
    }
}
