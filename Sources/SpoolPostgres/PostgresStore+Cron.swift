import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    public func fireCron(schedule: String, tick: Date, job: NewJob, now: Date) async throws -> Job? {
        try job.validate(limits)
        let now = PostgresRows.truncate(now)
        let (schema, logger) = (self.schema, self.logger)
        let fired = try await transaction { connection -> InsertResult? in
            let won = try await connection.count("""
                INSERT INTO \(unescaped: schema.cron) (name, last_tick) VALUES (\(schedule), \(PostgresRows.micros(tick)))
                ON CONFLICT (name) DO UPDATE SET last_tick = excluded.last_tick WHERE excluded.last_tick > \(unescaped: schema.cron).last_tick
                RETURNING 1
                """, logger: logger)
            guard won == 1 else { return nil }
            return try await PostgresStore.insert([job], now: now, schema: schema, prepared: false, on: connection, logger: logger).first
        }
        if let fired { publishAvailable([fired]) }
        return fired?.job
    }
}
