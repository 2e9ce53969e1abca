import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    /// Above this many rows of changes, reading the counts folds them into one row per queue and state.
    static let countRowsToFold = 500

    public func queues() async throws -> [QueueInfo] {
        let (schema, logger) = (self.schema, self.logger)
        let (infos, rows) = try await read { connection in
            // One round trip: the paused queues (no state), then the counts.
            var infos: [String: QueueInfo] = [:], rows = 0
            for try await (name, stateText, count, changes) in try await connection.query("""
                SELECT name, NULL, 0::bigint, 0::bigint FROM \(unescaped: schema.queues) WHERE paused
                UNION ALL
                SELECT queue, state, sum(delta)::bigint, count(*) FROM \(unescaped: schema.jobCounts) GROUP BY queue, state
                """, logger: logger).decode((String, String?, Int, Int).self) {
                guard let stateText else {
                    infos[name] = QueueInfo(name: name, paused: true, counts: infos[name]?.counts ?? [:])
                    continue
                }
                rows += changes
                guard count != 0, let state = JobState(rawValue: stateText) else { continue }
                infos[name, default: QueueInfo(name: name, paused: false, counts: [:])].counts[state] = count
            }
            return (infos, rows)
        }
        if rows > Self.countRowsToFold { foldCountsSoon() }
        return infos.values.sorted { $0.name < $1.name }
    }

    /// Folds the counts' rows (``foldCounts()``) once the read that found too many has answered,
    /// one fold at a time: a dashboard's request does not wait for a fold's commit.
    func foldCountsSoon() {
        guard countsFolding.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        Task {
            defer { countsFolding.store(false, ordering: .releasing) }
            do {
                try await foldCounts()
            } catch {
                logger.debug("folding the job counts failed; the next read tries again", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Replaces the rows of changes in the counts table by one row per queue and state. Rows
    /// that writers append meanwhile are left for the next fold; two folds at once each take
    /// only rows the other has not. The commit does not wait for the disk: a fold lost in a
    /// crash leaves the rows it would have replaced, whose sums are the same.
    func foldCounts() async throws {
        let (schema, logger) = (self.schema, self.logger)
        try await transaction { connection in
            try await connection.query("SET LOCAL synchronous_commit = off", logger: logger)
            try await connection.query("""
                WITH folded AS (DELETE FROM \(unescaped: schema.jobCounts) RETURNING queue, state, delta)
                INSERT INTO \(unescaped: schema.jobCounts) (queue, state, delta)
                SELECT queue, state, sum(delta) FROM folded GROUP BY queue, state HAVING sum(delta) <> 0
                """, logger: logger)
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
            if !paused { try await PostgresStore.notifyAvailable([queue], schema: schema, on: connection, logger: logger) }
        }
        if !paused {
            claimFloors.forget()
            events.publish(.jobsAvailable(queues: [queue]))
        }
    }
}
