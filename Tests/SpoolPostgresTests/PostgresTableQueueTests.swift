import Foundation
import SpoolCore
import SpoolPostgres
import SpoolTestSupport
import Testing

@Suite("PostgreSQL table queue", .enabled(if: PostgresServer.shouldRun))
struct PostgresTableQueueTests {
    @Test("conformance", arguments: TransportConformance.cases)
    func conformance(_ check: TransportConformanceCase) async throws {
        let (url, _) = try await PostgresTestDatabase.freshURL()
        _ = try await PostgresStore(url: url, maximumConnections: 2)
        try await check.run(TransportFixture(destination: "conformance") {
            PostgresTableQueue(store: try await PostgresStore(url: url, maximumConnections: 2))
        })
    }

    @Test("ordering keys", arguments: TransportOrderingConformance.cases)
    func ordering(_ check: TransportConformanceCase) async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let store = try await PostgresStore(url: url, maximumConnections: 2)
        try await check.run(TransportFixture(destination: "units") {
            PostgresTableQueue(store: try await PostgresStore(url: url, maximumConnections: 2))
        })
        let (server, database) = try await PostgresTestDatabase.get()
        #expect(try server.psql("SELECT count(*) FROM \(schema).spool_message_keys", database: database).trimmingCharacters(in: .whitespacesAndNewlines) == "0",
                "no key rows are left behind")
        await store.close()
    }
}
