import GRDB
import SpoolCore
import Synchronization

/// The numbering of job ends: every job that reaches a terminal state gets the next number of
/// the `job_end` counter in the transaction that ends it, so numbers follow commit order (one
/// writer at a time) and a process following the file reads exactly what ended after the
/// number it last saw, whichever process recorded it.
enum JobEnds {
    /// Takes `count` numbers from the counter and returns the first.
    static func reserve(_ count: Int, db: Database) throws -> Int64 {
        let statement = try db.cachedStatement(sql: "UPDATE spool_counters SET value = value + ? WHERE name = 'job_end' RETURNING value")
        guard let last = try Int64.fetchOne(statement, arguments: [count]) else {
            throw SpoolError(.storeCorrupt, "the store has no job_end counter")
        }
        return last - Int64(count) + 1
    }

    /// The last number handed out.
    static func current(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM spool_counters WHERE name = 'job_end'")) ?? 0
    }

    /// The jobs that ended after `cursor` and are still ended, with the number to read after
    /// next time; reads in pages of `page` rows until it has seen everything.
    static func after(_ cursor: Int64, page: Int = 1000, db: Database) throws -> (ended: [JobID: JobState], cursor: Int64) {
        let statement = try db.cachedStatement(sql: """
            SELECT id, state, end_seq FROM jobs WHERE end_seq > ? ORDER BY end_seq LIMIT ?
            """)
        var ended: [JobID: JobState] = [:]
        var cursor = cursor
        while true {
            let rows = try Row.fetchAll(statement, arguments: [cursor, page])
            for row in rows {
                cursor = row[2]
                let text: String = row[0]
                guard let id = JobID(text), let state = JobState(rawValue: row[1]), state.isTerminal else { continue }
                ended[id] = state
            }
            if rows.count < page { return (ended, cursor) }
        }
    }
}

/// Announces the jobs that ended since it last looked, whichever process ended them: the
/// ``ChangeWatcher`` asks it at every wake, once it was started.
final class EndFollower: Sendable {
    /// Reads what ended after a cursor: the ended jobs and the new cursor.
    typealias Reader = @Sendable (Int64) throws -> (ended: [JobID: JobState], cursor: Int64)

    private let cursor = Mutex<Int64?>(nil)
    private let read: Reader

    init(read: @escaping Reader) { self.read = read }

    /// Follows from `cursor` on: what ends after it is announced.
    func start(from cursor: Int64) { self.cursor.withLock { $0 = $0 ?? cursor } }

    /// Stops following: nothing is read or announced until it starts again.
    func stop() { cursor.withLock { $0 = nil } }

    /// Reads and announces what ended since the last read; a failed read is tried at the next wake.
    func announce(to events: StoreEvents) {
        guard let from = cursor.withLock({ $0 }), let (ended, next) = try? read(from) else { return }
        cursor.withLock { $0 = next }
        if !ended.isEmpty { events.publish(.jobsFinished(ended)) }
    }
}
