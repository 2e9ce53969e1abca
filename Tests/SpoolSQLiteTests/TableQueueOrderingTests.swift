import Foundation
import GRDB
import SpoolCore
@testable import SpoolSQLite
import SpoolTestSupport
import Testing

/// Ordering keys on the table queue: the shared ordering cases, and no key rows left behind.
@Suite("SQLite table queue: ordering keys")
struct TableQueueOrderingTests {
    @Test(arguments: TransportOrderingConformance.cases)
    func ordering(_ check: TransportConformanceCase) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let store = try SQLiteStore(path: path)
        try await check.run(TransportFixture(destination: "units") { TableQueue(store: try SQLiteStore(path: path)) })
        let left = try await store.write { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM message_keys") ?? -1 }
        #expect(left == 0, "no key rows are left behind")
    }

    /// A receive must not cost as much as the backlog is long: its candidates come from an index
    /// in publish order, read alone and not sorted, so that it stops after the first few.
    @Test("a receive reads its candidates from an index in publish order, without sorting the backlog")
    func candidatesPlan() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.path("spool.db"))
        let plan = try await store.write { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + TableQueue.candidatesSQL, arguments: ["units", 0, 0, 400])
                .map { $0["detail"] as String }.joined(separator: "; ")
        }
        #expect(plan.contains("COVERING INDEX messages_in_order"), "\(plan)")
        #expect(!plan.contains("TEMP B-TREE"), "\(plan)")
    }
}
