import Foundation
import SpoolCore
import SpoolSQLite
import SpoolTestSupport
import Testing

@Suite("SQLite table queue conformance")
struct TableQueueConformanceTests {
    @Test(arguments: TransportConformance.cases)
    func conformance(_ check: TransportConformanceCase) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        _ = try SQLiteStore(path: path)
        try await check.run(TransportFixture(destination: "conformance") { TableQueue(store: try SQLiteStore(path: path)) })
    }
}
