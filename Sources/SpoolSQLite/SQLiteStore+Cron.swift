import Foundation
import GRDB
import SpoolCore

extension SQLiteStore {
    public func fireCron(schedule: String, tick: Date, job: NewJob, now: Date) async throws -> Job? {
        try job.validate(limits)
        let now = SQLiteRows.truncate(now)
        let fired = try await write { db -> Job? in
            guard try SQLiteStore.take(tick, of: schedule, db: db) else { return nil }
            return try SQLiteStore.insert([job], now: now, db: db).first?.job
        }
        if let fired { hub.publish(.jobsAvailable(queues: [fired.queue])) }
        return fired
    }

    public func takeTurn(_ name: String, tick: Date) async throws -> Bool {
        try await write { db in try SQLiteStore.take(tick, of: name, db: db) }
    }

    /// Records `tick` as `name`'s last unless that tick or a later one is; whether it did.
    private static func take(_ tick: Date, of name: String, db: Database) throws -> Bool {
        try db.execute(sql: """
            INSERT INTO cron (name, last_tick) VALUES (?, ?)
            ON CONFLICT (name) DO UPDATE SET last_tick = excluded.last_tick WHERE excluded.last_tick > cron.last_tick
            """, arguments: [name, SQLiteRows.micros(tick)])
        return db.changesCount == 1
    }
}
