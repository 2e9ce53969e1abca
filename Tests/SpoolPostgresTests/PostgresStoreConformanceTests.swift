import Foundation
import SpoolCore
import SpoolPostgres
import SpoolTestSupport
import Testing

/// One database of the shared throwaway server for the PostgreSQL store's tests; each store
/// opened by ``freshStore()`` lives in a schema of its own.
enum PostgresTestDatabase {
    private static let database = Task { () throws -> (PostgresServer, String) in
        let server = try await PostgresServer.shared()
        return (server, try server.createDatabase())
    }

    /// The server and the database's name.
    static func get() async throws -> (server: PostgresServer, database: String) { try await database.value }

    /// A store in a new schema with a random name.
    static func freshStore() async throws -> PostgresStore {
        let (server, database) = try await get()
        let schema = "spool_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        return try await PostgresStore(url: server.url(database: database, schema: String(schema)), maximumConnections: 4)
    }
}

@Suite("PostgreSQL store conformance", .enabled(if: PostgresServer.shouldRun))
struct PostgresStoreConformanceTests {
    @Test(arguments: StoreConformance.cases)
    func conformance(_ check: StoreConformanceCase) async throws {
        try await check.run(try await PostgresTestDatabase.freshStore())
    }
}
