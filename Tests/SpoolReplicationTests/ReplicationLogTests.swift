import Foundation
import SpoolCore
import SpoolReplication
import Testing

/// The primary's retained log and its answer to a greeting.
@Suite("Replication: the primary's retained log")
struct ReplicationLogTests {
    @Test("a secondary at any retained position gets exactly what follows; one up to date gets nothing")
    func lookups() throws {
        var log = ReplicationLog()
        let history = SecondaryStreamTests.history(5)
        for transaction in history { try log.append(transaction) }
        #expect(log.position == ReplicationPosition(transaction: 5, checksum: history[4].checksum))
        #expect(log.after(.empty) == .transactions(history))
        #expect(log.after(ReplicationPosition(transaction: 2, checksum: history[1].checksum)) == .transactions(Array(history[2...])))
        #expect(log.after(log.position) == .transactions([]))
        #expect(log.transactions(after: 3) == Array(history[3...]))
    }

    @Test("a position ahead of the primary, or with another checksum, is not its history; one behind what it keeps needs a snapshot")
    func refusals() throws {
        var log = ReplicationLog(limits: .init(bytes: 3 * 4099))
        let history = SecondaryStreamTests.history(6)
        for transaction in history { try log.append(transaction) }
        #expect(log.count == 3, "three transactions of 4,099 page bytes fit")
        #expect(log.base == ReplicationPosition(transaction: 3, checksum: history[2].checksum))
        #expect(log.after(.empty) == .notRetained(oldest: 4))
        #expect(log.after(ReplicationPosition(transaction: 3, checksum: history[2].checksum)) == .transactions(Array(history[3...])))
        guard case .unknown = log.after(ReplicationPosition(transaction: 9, checksum: history[5].checksum)) else { Issue.record("ahead"); return }
        guard case .unknown = log.after(ReplicationPosition(transaction: 5, checksum: history[3].checksum)) else { Issue.record("diverged"); return }
        #expect(PrimaryGreeting.answer(.hello(version: 1, term: 1, position: .empty), log: log, term: 1) == .snapshot)
        guard case .refuse(let reason) = PrimaryGreeting.answer(.hello(version: 2, term: 1, position: log.position), log: log, term: 1) else {
            Issue.record("version")
            return
        }
        #expect(reason.contains("version 2"))
        guard case .refuse = PrimaryGreeting.answer(.keepAlive(transaction: 1), log: log, term: 1) else { Issue.record("no greeting"); return }
    }

    @Test("terms: a secondary of an older term gets a snapshot wherever it stands; one of a newer term means this primary was superseded")
    func terms() throws {
        var log = ReplicationLog()
        let history = SecondaryStreamTests.history(3)
        for transaction in history { try log.append(transaction) }
        let current = ReplicationPosition(transaction: 3, checksum: history[2].checksum)
        #expect(PrimaryGreeting.answer(.hello(version: 1, term: 2, position: current), log: log, term: 2) == .stream([]))
        #expect(PrimaryGreeting.answer(.hello(version: 1, term: 1, position: current), log: log, term: 2) == .snapshot,
                "same position, older term: its copy may hold what the old primary wrote after the promotion's point")
        #expect(PrimaryGreeting.answer(.hello(version: 1, term: 0, position: .empty), log: log, term: 2) == .snapshot)
        #expect(PrimaryGreeting.answer(.hello(version: 1, term: 3, position: current), log: log, term: 2) == .superseded(term: 3))
    }

    @Test("transactions out of order are refused; old ones age out")
    func appendAndAge() throws {
        var log = ReplicationLog(limits: .init(age: .seconds(10)))
        let history = SecondaryStreamTests.history(3)
        #expect(throws: ReplicationStreamError.self) { try log.append(history[1]) }
        let start = ContinuousClock.now
        try log.append(history[0], at: start)
        try log.append(history[1], at: start + .seconds(8))
        try log.append(history[2], at: start + .seconds(12))
        #expect(log.count == 2 && log.base.transaction == 1, "the first is older than ten seconds by the third's capture")
        #expect(log.bytes == 2 * 4099)
    }

    @Test("a secondary's lag as the primary sees it: transactions it has not reported, and the age of the oldest of them")
    func secondaryLag() throws {
        var log = ReplicationLog()
        var history = SecondaryStreamTests.history(4)
        for index in history.indices { history[index].capturedAt = UInt64(1_700_000_000 + index) * 1_000_000 }
        for transaction in history { try log.append(transaction) }
        let now = Date(timeIntervalSince1970: 1_700_000_010)
        #expect(log.lag(of: 4, now: now) == ReplicationStatus.Lag(transactions: 0, seconds: 0))
        #expect(log.lag(of: 1, now: now) == ReplicationStatus.Lag(transactions: 3, seconds: 9), "transaction 2, captured at +1 s, is the oldest it lacks")
        #expect(log.capturedAt(9) == nil && log.capturedAt(1) == 1_700_000_000_000_000)
    }
}
