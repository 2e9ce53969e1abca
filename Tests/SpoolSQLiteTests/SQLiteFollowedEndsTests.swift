import Foundation
import SpoolCore
import SpoolSQLite
import SpoolTestSupport
import Testing

/// Two store instances on one file stand for two processes: the ends one records reach the
/// other through its change watcher reading what ended since its cursor.
@Suite("SQLite: the ends of jobs recorded by another process")
struct SQLiteFollowedEndsTests {
    @Test("an instance following ends announces a completion, a discard and a cancel recorded by another")
    func endsRecordedElsewhereAreAnnounced() async throws {
        let directory = try TemporaryDirectory()
        let recorder = try SQLiteStore(path: directory.path("spool.db"))
        let follower = try SQLiteStore(path: directory.path("spool.db"))
        try await StoreConformance.checkEndsAreFollowed(recorder: recorder, follower: follower)
        await recorder.close()
        await follower.close()
    }

    @Test("a follower starts at what ended last: earlier ends are not announced again")
    func followingStartsNow() async throws {
        let directory = try TemporaryDirectory()
        let recorder = try SQLiteStore(path: directory.path("spool.db"))
        let early = try await recorder.insert([NewJob(name: "spool.noop")], now: Date())[0].job
        _ = try await recorder.cancel(early.id, now: Date())
        let follower = try SQLiteStore(path: directory.path("spool.db"))
        let events = follower.events.subscribe()
        follower.events.followEndsEverywhere()
        let late = try await recorder.insert([NewJob(name: "spool.noop")], now: Date())[0].job
        _ = try await recorder.cancel(late.id, now: Date())
        var ended: [JobID: JobState] = [:]
        for await event in events {
            if case .jobsFinished(let states) = event { ended.merge(states) { $1 } }
            if ended[late.id] != nil { break }
        }
        #expect(ended == [late.id: .cancelled], "only the end after following began")
        await recorder.close()
        await follower.close()
    }
}
