import Foundation
import GRDBSQLite
import SpoolCore

/// One raw SQLite connection, for the few things GRDB's pools do not let a caller do: keep a read
/// transaction open across calls, and write while another connection of the same process holds
/// a read.
final class SQLiteHandle {
    private var handle: OpaquePointer?
    let path: String

    /// Opens `path` read-write (creating it with `create`), waiting about 30 s for locks.
    init(path: String, create: Bool = false) throws {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0)
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw SpoolError(.storeUnavailable, "cannot open \(path) for replication: \(message)")
        }
        // Short, even steps: SQLite's own busy timeout backs off to 100 ms sleeps, and writers
        // committing back to back then keep the capture from ever taking the lock.
        sqlite3_busy_handler(handle, { _, tries in
            guard tries < 60_000 else { return 0 }
            usleep(500)
            return 1
        }, nil)
        // The capture alone decides when the log is copied back (see WALCapture).
        sqlite3_wal_autocheckpoint(handle, 0)
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs `sql` (one or more statements, no results wanted).
    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw SpoolError(.storeUnavailable, "replication of \(path): \(message) (\(sql.prefix(80)))")
        }
    }

    /// The columns of the first row of `sql` as integers (none when it returns no row).
    func integers(_ sql: String) throws -> [Int64] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
            throw SpoolError(.storeUnavailable, "replication of \(path): \(String(cString: sqlite3_errmsg(handle)))")
        }
        defer { sqlite3_finalize(statement) }
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return (0..<sqlite3_column_count(statement)).map { sqlite3_column_int64(statement, $0) }
        case SQLITE_DONE: return []
        default: throw SpoolError(.storeUnavailable, "replication of \(path): \(String(cString: sqlite3_errmsg(handle)))")
        }
    }

    /// Reads the database file's bytes at `offset` into `buffer` through the connection's own
    /// file (a descriptor of our own, once closed, would drop every lock the process holds on the
    /// file: POSIX locks belong to the process, not the descriptor).
    func readFile(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws {
        var file: UnsafeMutablePointer<sqlite3_file>?
        guard sqlite3_file_control(handle, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK,
              let file, let read = file.pointee.pMethods?.pointee.xRead else {
            throw SpoolError(.storeUnavailable, "replication of \(path): the database file cannot be read directly")
        }
        let result = read(file, buffer.baseAddress, Int32(buffer.count), offset)
        guard result == SQLITE_OK else {
            throw SpoolError(.storeUnavailable, "replication of \(path): reading \(buffer.count) bytes at \(offset) failed (\(result == SQLITE_IOERR | (2 << 8) ? "the file ends before" : "SQLite error \(result)"))")
        }
    }

    /// The first column of every row of `sql` as text.
    func strings(_ sql: String) throws -> [String] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
            throw SpoolError(.storeUnavailable, "replication of \(path): \(String(cString: sqlite3_errmsg(handle)))")
        }
        defer { sqlite3_finalize(statement) }
        var rows: [String] = []
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW: rows.append(sqlite3_column_text(statement, 0).map { String(cString: $0) } ?? "")
            case SQLITE_DONE: return rows
            default: throw SpoolError(.storeUnavailable, "replication of \(path): \(String(cString: sqlite3_errmsg(handle)))")
            }
        }
    }

    /// The first column of the first row of `sql` as text, if any.
    func text(_ sql: String) throws -> String? {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
            throw SpoolError(.storeUnavailable, "replication of \(path): \(String(cString: sqlite3_errmsg(handle)))")
        }
        defer { sqlite3_finalize(statement) }
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return sqlite3_column_text(statement, 0).map { String(cString: $0) }
        case SQLITE_DONE: return nil
        default: throw SpoolError(.storeUnavailable, "replication of \(path): \(String(cString: sqlite3_errmsg(handle)))")
        }
    }
}
