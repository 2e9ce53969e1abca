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
}
