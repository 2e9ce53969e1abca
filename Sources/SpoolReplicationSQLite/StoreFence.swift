import Foundation
import SpoolCore

/// Keeps a superseded primary's store from taking writes: a trigger on every table (Spool's,
/// and any of the application's in the same file) refuses each insert, update and delete with
/// the reason, in every process that writes the
/// file, including those already running. The way out is to make the store a secondary of the
/// new primary: its snapshot replaces the whole file, fence included.
enum StoreFence {
    /// Fences the store at `path`; every refused write fails with `reason`.
    static func raise(path: String, reason: String) throws {
        let handle = try SQLiteHandle(path: path)
        let tables = try handle.strings("""
            SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'spool_replication_seq'
            """)
        let message = reason.replacingOccurrences(of: "'", with: "''")
        var sql = "BEGIN IMMEDIATE;"
        for table in tables {
            for operation in ["INSERT", "UPDATE", "DELETE"] {
                sql += """
                    CREATE TRIGGER IF NOT EXISTS "spool_fence_\(table)_\(operation.lowercased())" BEFORE \(operation) ON "\(table)"
                    BEGIN SELECT RAISE(ABORT, '\(message)'); END;
                    """
            }
        }
        try handle.execute(sql + "COMMIT")
    }
}
