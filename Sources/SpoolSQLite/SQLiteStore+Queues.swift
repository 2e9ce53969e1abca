import Foundation
import GRDB
import SpoolCore

extension SQLiteStore {
    public func queues() async throws -> [QueueInfo] {
        try read { db in
            var infos: [String: QueueInfo] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name FROM queues WHERE paused = 1") {
                let name: String = row[0]
                infos[name] = QueueInfo(name: name, paused: true, counts: [:])
            }
            for row in try Row.fetchAll(db, sql: "SELECT queue, state, count FROM job_counts WHERE count != 0") {
                let name: String = row[0], stateText: String = row[1], count: Int = row[2]
                guard let state = JobState(rawValue: stateText) else { continue }
                infos[name, default: QueueInfo(name: name, paused: false, counts: [:])].counts[state] = count
            }
            return infos.values.sorted { $0.name < $1.name }
        }
    }

    public func setPaused(_ queue: String, paused: Bool) async throws {
        guard !queue.isEmpty else { throw SpoolError(.invalidArgument, "queue name must not be empty") }
        try await write { db in
            try db.execute(sql: """
                INSERT INTO queues (name, paused) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused
                """, arguments: [queue, paused ? 1 : 0])
        }
        if !paused { hub.publish(.jobsAvailable(queues: [queue])) }
    }
}
