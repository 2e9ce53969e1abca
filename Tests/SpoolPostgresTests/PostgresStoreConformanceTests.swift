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
        try await PostgresStore(url: try await freshURL().url, maximumConnections: 4)
    }

    /// The URL of a new schema with a random name, and the name.
    static func freshURL() async throws -> (url: String, schema: String) {
        let (server, database) = try await get()
        let schema = "spool_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        return (server.url(database: database, schema: String(schema)), String(schema))
    }
}

@Suite("PostgreSQL store conformance", .enabled(if: PostgresServer.shouldRun))
struct PostgresStoreConformanceTests {
    @Test(arguments: StoreConformance.cases)
    func conformance(_ check: StoreConformanceCase) async throws {
        try await check.run(try await PostgresTestDatabase.freshStore())
    }
}

@Suite("PostgreSQL store across connections", .enabled(if: PostgresServer.shouldRun))
struct PostgresStoreSharingTests {
    /// Two store instances (as two machines would have) claim concurrently from one schema: each
    /// job is handed out once and the quota's size holds at every moment.
    @Test func concurrentClaimsShareJobsOnceAndHoldQuotas() async throws {
        let (server, database) = try await PostgresTestDatabase.get()
        let url = server.url(database: database, schema: "spool_shared_\(UInt32.random(in: 0...UInt32.max))")
        let first = try await PostgresStore(url: url, maximumConnections: 4)
        let second = try await PostgresStore(url: url, maximumConnections: 4)
        let now = Date()
        try await first.createQuota("api", size: 2)
        _ = try await first.insert((0..<40).map { _ in NewJob(name: "limited", quotas: ["api"]) }
                                   + (0..<160).map { _ in NewJob(name: "free") }, now: now)
        let claimed = try await withThrowingTaskGroup(of: [JobID].self) { group in
            for (index, store) in [first, second, first, second].enumerated() {
                group.addTask {
                    let dispatcher = UUID()
                    var mine: [JobID] = []
                    while true {
                        let jobs = try await store.claim(ClaimParams(dispatcher: dispatcher, limit: 3 + index, now: now))
                        if jobs.isEmpty { break }
                        let running = try await store.quota("api")!.running.count
                        #expect(running <= 2, "quota api holds \(running) running jobs")
                        mine += jobs.map(\.id)
                        let finishes = jobs.map { Finish(id: $0.id, dispatcher: dispatcher, outcome: .completed(result: nil, followUps: [])) }
                        #expect(try await store.finish(finishes, now: now).allSatisfy { $0 })
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(claimed.count == 200)
        #expect(Set(claimed).count == 200, "no job was handed out twice")
    }
}
