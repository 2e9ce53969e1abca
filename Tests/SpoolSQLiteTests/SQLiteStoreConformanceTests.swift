import Foundation
import SpoolCore
import SpoolSQLite
import SpoolTestSupport
import Testing

@Suite("SQLite store conformance")
struct SQLiteStoreConformanceTests {
    @Test(arguments: StoreConformance.cases)
    func conformance(_ check: StoreConformanceCase) async throws {
        let directory = try TemporaryDirectory()
        try await check.run(try SQLiteStore(path: directory.path("spool.db")))
    }
}
