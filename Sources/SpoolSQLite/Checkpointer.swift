import Foundation
import GRDB
import Synchronization

/// Copies the write-ahead log back into the store file on a thread of its own. SQLite's
/// automatic checkpoint runs inside the commit that crosses its threshold, syncs included, so
/// that one caller waits milliseconds; here commits only count, and a separate connection
/// checkpoints passively every 20 ms while commits happen (every 200 ms while idle). The
/// automatic checkpoint stays on at a high threshold, so the log cannot grow without bound
/// when this thread cannot keep up.
///
/// A store file that is replicated (it has the table `spool_replication_seq`, made by the
/// replication capture) is checkpointed by the capture alone, which must see every frame of the
/// log before the log restarts; this thread then only watches for the table to go.
final class Checkpointer: Sendable {
    /// Pages in the log past which the committing connection checkpoints itself.
    static let fallbackPages = 10_000
    /// Microseconds between checkpoints while commits happen.
    static let busyInterval: useconds_t = 20_000

    private let path: String
    private let synchronous: String
    private let commits = Atomic<Int>(0)
    private let started = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)

    /// Whether its thread is running now.
    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Checkpoints the store at `path`, syncing as `synchronous` (`NORMAL` or `FULL`) says.
    init(path: String, synchronous: String) {
        self.path = path
        self.synchronous = synchronous
    }

    /// Counts a commit; starts the thread at the first one.
    func committed() {
        commits.add(1, ordering: .relaxed)
        if !started.load(ordering: .relaxed), !started.exchange(true, ordering: .acquiringAndReleasing) {
            running.store(true, ordering: .releasing)
            Thread.detachNewThread { [self] in
                run()
                running.store(false, ordering: .releasing)
            }
        }
    }

    /// Ends the thread within 200 ms.
    func stop() { stopping.store(true, ordering: .releasing) }

    private func run() {
        var configuration = Configuration()
        configuration.busyMode = .immediateError
        configuration.label = "spool.checkpoint"
        let synchronous = self.synchronous
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        var connection: DatabaseQueue?
        var busy = true
        var replicated = false
        var lookedForReplication = ContinuousClock.now - .seconds(10)
        while !stopping.load(ordering: .acquiring) {
            usleep(busy ? Checkpointer.busyInterval : 200_000)
            busy = commits.exchange(0, ordering: .relaxed) > 0
            guard busy else { continue }
            do {
                if connection == nil { connection = try DatabaseQueue(path: path, configuration: configuration) }
                if ContinuousClock.now - lookedForReplication > .seconds(1) {
                    lookedForReplication = ContinuousClock.now
                    replicated = try connection?.read { db in try db.tableExists("spool_replication_seq") } ?? false
                }
                guard !replicated else { continue }
                _ = try connection?.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            } catch {
                continue
            }
        }
    }
}
