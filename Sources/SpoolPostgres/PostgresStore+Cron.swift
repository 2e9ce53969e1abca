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
            guard try await PostgresStore.take(tick, of: schedule, schema: schema, on: connection, logger: logger) else { return nil }
            return try await PostgresStore.insert([job], now: now, schema: schema, prepared: false, on: connection, logger: logger).first
        }
        if let fired { publishAvailable([fired]) }
        return fired?.job
    }

    public func takeTurn(_ name: String, tick: Date) async throws -> Bool {
        let (schema, logger) = (self.schema, self.logger)
        return try await transaction { connection in
            try await PostgresStore.take(tick, of: name, schema: schema, on: connection, logger: logger)
        }
    }

    /// Records `tick` as `name`'s last unless that tick or a later one is; whether it did.
    private static func take(_ tick: Date, of name: String, schema: PostgresSchema, on connection: PostgresConnection,
                             logger: Logger) async throws -> Bool {
        try await connection.count("""
            INSERT INTO \(unescaped: schema.cron) (name, last_tick) VALUES (\(name), \(PostgresRows.micros(tick)))
            ON CONFLICT (name) DO UPDATE SET last_tick = excluded.last_tick WHERE excluded.last_tick > \(unescaped: schema.cron).last_tick
            RETURNING 1
            """, logger: logger) == 1
    }
}
