import GRDB
import SpoolCore

/// Changes to how many jobs each queue holds in each state (the `job_counts` table, migration
/// 8), gathered while an operation changes jobs and written before it ends, in its transaction
/// (its savepoint, when it shares a group commit): a claim or a batch of finishes writes one
/// row per queue and state it touched, not one per job.
///
/// Every statement that inserts, deletes or changes the state of jobs records its change here;
/// `queues()` then reads the counts without scanning the jobs.
struct JobCountChanges {
    /// The queues touched, and for each, the change per state (indexed by ``slot(_:)``). An
    /// operation touches few queues, so a scan finds one faster than hashing its name.
    private var queues: [String] = []
    private var changes: [[Int]] = []
    private static let states: [JobState] = [.scheduled, .available, .running, .completed, .retryable, .discarded, .cancelled]

    private static func slot(_ state: JobState) -> Int {
        switch state {
        case .scheduled: 0
        case .available: 1
        case .running: 2
        case .completed: 3
        case .retryable: 4
        case .discarded: 5
        case .cancelled: 6
        }
    }

    private mutating func index(of queue: String) -> Int {
        if let index = queues.lastIndex(of: queue) { return index }
        queues.append(queue)
        changes.append(Array(repeating: 0, count: Self.states.count))
        return queues.count - 1
    }

    /// Counts `count` more jobs (fewer, when negative) of `queue` in `state`.
    mutating func add(_ count: Int, _ queue: String, _ state: JobState) {
        changes[index(of: queue)][Self.slot(state)] += count
    }

    /// Counts `count` jobs of `queue` as moved from state `from` to state `to`.
    mutating func move(_ queue: String, from: JobState, to: JobState, count: Int = 1) {
        guard from != to else { return }
        let index = index(of: queue)
        changes[index][Self.slot(from)] -= count
        changes[index][Self.slot(to)] += count
    }

    /// Adds the changes to `job_counts`.
    func write(_ db: Database) throws {
        guard !queues.isEmpty else { return }
        let statement = try db.cachedStatement(sql: """
            INSERT INTO job_counts (queue, state, count) VALUES (?, ?, ?)
            ON CONFLICT (queue, state) DO UPDATE SET count = count + excluded.count
            """)
        for (queue, perState) in zip(queues, changes) {
            for (state, count) in zip(Self.states, perState) where count != 0 {
                try statement.execute(arguments: [queue, state.rawValue, count])
            }
        }
    }
}
