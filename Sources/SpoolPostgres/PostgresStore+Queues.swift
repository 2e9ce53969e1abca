import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    public func queues() async throws -> [QueueInfo] {
        let (schema, logger) = (self.schema, self.logger)
        return try await read { connection in
            var infos: [String: QueueInfo] = [:]
            for try await name in try await connection.query("SELECT name FROM \(unescaped: schema.queues) WHERE paused", logger: logger)
                .decode(String.self) { infos[name] = QueueInfo(name: name, paused: true, counts: [:]) }
            for try await (name, stateText, count) in try await connection.query("""
                SELECT queue, state, COUNT(*) FROM \(unescaped: schema.jobs) GROUP BY queue, state
                """, logger: logger).decode((String, String, Int).self) {
                guard let state = JobState(rawValue: stateText) else { continue }
                infos[name, default: QueueInfo(name: name, paused: false, counts: [:])].counts[state] = count
            }
            return infos.values.sorted { $0.name < $1.name }
        }
    }

    public func setPaused(_ queue: String, paused: Bool) async throws {
        guard !queue.isEmpty else { throw SpoolError(.invalidArgument, "queue name must not be empty") }
        let (schema, logger) = (self.schema, self.logger)
        try await transaction { connection in
            try await connection.query("""
                INSERT INTO \(unescaped: schema.queues) (name, paused) VALUES (\(queue), \(paused))
                ON CONFLICT (name) DO UPDATE SET paused = excluded.paused
                """, logger: logger)
            if !paused { try await connection.query("SELECT pg_notify(\(schema.channel), \(queue))", logger: logger) }
        }
        if !paused { events.publish(.jobsAvailable(queues: [queue])) }
    }
}
