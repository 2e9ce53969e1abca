import Foundation
import GRDB
import SpoolCore
@testable import SpoolSQLite
import SpoolTestSupport
import Testing

@Suite("SQLite retention")
struct SQLiteRetentionTests {
    private static func autoVacuum(_ path: String) throws -> Int {
        try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "PRAGMA auto_vacuum") ?? -1 }
    }

    @Test("a new store is incremental from its first open, so opening it again never rewrites the file")
    func newStoreIsIncremental() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let store = try SQLiteStore(path: path)
        _ = try await store.insert([NewJob(name: "spool.noop")], now: Date())
        await store.close()
        #expect(try Self.autoVacuum(path) == 2, "incremental before the first table was made")
    }

    @Test("a store made before incremental vacuum is converted when opened, keeping its jobs; pruning gives the file's space back")
    func spaceComesBack() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        var store = try SQLiteStore(path: path)
        let kept = try await store.insert([NewJob(name: "spool.noop")], now: Date())[0].job
        await store.close()
        try await DatabaseQueue(path: path).writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA auto_vacuum = NONE")
            try db.execute(sql: "VACUUM")
        }
        #expect(try Self.autoVacuum(path) == 0, "the file is as an older Spool made it")

        store = try SQLiteStore(path: path)
        #expect(try Self.autoVacuum(path) == 2, "incremental")
        #expect(try await store.job(kept.id)?.id == kept.id, "its jobs survive the conversion")

        let pad = String(repeating: "x", count: 2000)
        let longAgo = Date().addingTimeInterval(-2 * 86_400)
        for _ in 0..<5 {
            _ = try await store.insert((0..<1000).map { _ in NewJob(name: "spool.noop", payload: JSONPayload(unchecked: "{\"pad\":\"\(pad)\"}")) },
                                       now: longAgo)
            let claimed = try await store.claim(ClaimParams(dispatcher: UUID(), limit: 1000, now: longAgo))
            _ = try await store.finish(claimed.map { Finish(id: $0.id, dispatcher: $0.dispatcher!, outcome: .completed(result: nil, followUps: [])) },
                                       now: longAgo)
        }
        let pages = { try store.read { try Int.fetchOne($0, sql: "PRAGMA page_count") ?? 0 } }
        let full = try pages()
        var deleted = 0
        while true {
            let count = try await store.prune(PruneRequest(state: .completed, finishedBefore: Date().addingTimeInterval(-86_400))).deleted
            deleted += count
            if count == 0 { break }
        }
        #expect(deleted == 5000)
        let after = try pages()
        #expect(after * 4 < full, "the file shrank from \(full) pages to \(after)")
        #expect(try await store.job(kept.id) != nil, "the job that had not finished stays")
    }

    @Test("a prune reports the time it held the write lock, not the time it waited for it: retention's pause follows the former")
    func heldExcludesTheWait() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let store = try SQLiteStore(path: path)
        let longAgo = Date().addingTimeInterval(-2 * 86_400)
        _ = try await store.insert((0..<200).map { _ in NewJob(name: "spool.noop") }, now: longAgo)
        let claimed = try await store.claim(ClaimParams(dispatcher: UUID(), limit: 200, now: longAgo))
        _ = try await store.finish(claimed.map { Finish(id: $0.id, dispatcher: $0.dispatcher!, outcome: .completed(result: nil, followUps: [])) },
                                   now: longAgo)

        // Another connection (on a thread of its own) holds the write lock for half a second.
        let other = try DatabaseQueue(path: path)
        let release = DispatchSemaphore(value: 0)
        await withCheckedContinuation { (locked: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                try? other.inTransaction(.immediate) { _ in
                    locked.resume()
                    release.wait()
                    return .commit
                }
            }
        }
        let started = ContinuousClock.now
        let prune = Task { try await store.prune(PruneRequest(state: .completed, finishedBefore: Date().addingTimeInterval(-86_400))) }
        try await Task.sleep(for: .milliseconds(500))
        release.signal()
        let outcome = try await prune.value
        let took = ContinuousClock.now - started

        #expect(outcome.deleted == 200)
        #expect(took >= .milliseconds(500), "the prune waited for the lock")
        #expect(outcome.held < .milliseconds(400), "held \(outcome.held) of \(took): the wait is not counted")
        #expect(outcome.held > .zero)
        #expect(Retention.pause(after: outcome.held, share: 0.125) < Retention.pause(after: took, share: 0.125))
        await store.close()
    }
}
