import Foundation
import GRDB
import SpoolCore

extension SQLiteStore {
    public func fireCron(schedule: String, tick: Date, job: NewJob, now: Date) async throws -> Job? {
        try job.validate(limits)
        let now = SQLiteRows.truncate(now)
        let fired = try await write { db -> Job? in
            try db.execute(sql: """
                INSERT INTO cron (name, last_tick) VALUES (?, ?)
                ON CONFLICT (name) DO UPDATE SET last_tick = excluded.last_tick WHERE excluded.last_tick > cron.last_tick
                """, arguments: [schedule, SQLiteRows.micros(tick)])
            guard db.changesCount == 1 else { return nil }
            return try SQLiteStore.insert([job], now: now, db: db).first?.job
        }
        if let fired { hub.publish(.jobsAvailable(queues: [fired.queue])) }
        return fired
    }
}
