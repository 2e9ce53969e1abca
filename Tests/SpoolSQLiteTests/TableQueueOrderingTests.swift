import Foundation
import SpoolCore
@testable import SpoolSQLite
import SpoolTestSupport
import Testing

/// Ordering keys on the table queue: messages sharing a key are handed out one at a time, in
/// publish order, across receivers; messages without keys are not held back.
@Suite("SQLite table queue: ordering keys")
struct TableQueueOrderingTests {
    private static func message(_ id: String, keys: [String]) throws -> TransportMessage {
        var headers: [String: String] = [:]
        if !keys.isEmpty { headers[orderKeysHeader] = try JSONPayload(encoding: keys).text }
        return TransportMessage(id: id, headers: headers, text: id)
    }

    @Test("a message waits while an earlier one with a shared key is left; settling or dead-lettering it lets the next go")
    func sharedKeysWait() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("spool.db"))
        let first = TableQueue(store: store), second = TableQueue(store: try SQLiteStore(path: directory.path("spool.db")))
        try await first.publish([Self.message("a1", keys: ["A"]), Self.message("b1", keys: ["B"]), Self.message("a2", keys: ["A"]),
                                 Self.message("ab", keys: ["A", "B"]), Self.message("free", keys: [])], to: "units")
        let taken = try await first.receive(from: "units", limit: 10, wait: .zero, visibility: .seconds(60))
        #expect(taken.map(\.message.id) == ["a1", "b1", "free"], "a2 and ab wait behind a1 and b1")
        #expect(try await second.receive(from: "units", limit: 10, wait: .zero, visibility: .seconds(60)).isEmpty,
                "another receiver gets none of the held-back messages")
        try await first.acknowledge(taken[0])
        let next = try await second.receive(from: "units", limit: 10, wait: .zero, visibility: .seconds(60))
        #expect(next.map(\.message.id) == ["a2"], "a1 settled: a2 goes; ab still waits for b1 and a2")
        try await second.retry(next[0], after: .seconds(60))
        try await first.acknowledge(taken[1])
        #expect(try await first.receive(from: "units", limit: 10, wait: .zero, visibility: .seconds(60)).isEmpty,
                "a2 returned for later still holds ab back")
        try await store.write { db in try db.execute(sql: "UPDATE messages SET available_at = 0 WHERE id = 'a2'") }
        let again = try await first.receive(from: "units", limit: 10, wait: .zero, visibility: .seconds(60))
        #expect(again.map(\.message.id) == ["a2"])
        try await first.deadLetter(again[0], reason: "unreadable")
        let last = try await second.receive(from: "units", limit: 10, wait: .zero, visibility: .seconds(60))
        #expect(last.map(\.message.id) == ["ab"], "a dead letter holds nothing back")
        try await second.acknowledge(last[0])
        try await first.acknowledge(taken[2])
        let left = try await store.write { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM message_keys") ?? -1 }
        #expect(left == 0, "no key rows are left behind")
    }
}
