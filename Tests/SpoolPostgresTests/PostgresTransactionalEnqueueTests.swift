import Foundation
import PostgresNIO
import SpoolCore
import SpoolPostgres
import SpoolTestSupport
import Testing

/// An application's own transaction on its own connection: its order row and the job enqueued
/// beside it exist together or not at all.
@Suite("PostgreSQL enqueue in the application's transaction", .enabled(if: PostgresServer.shouldRun))
struct PostgresTransactionalEnqueueTests {
    private struct Abort: Error {}

    @Test func aCommittedTransactionKeepsItsJobAndAnnouncesIt() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let store = try await PostgresStore(url: url, maximumConnections: 2)
        let watcher = try await PostgresStore(url: url, maximumConnections: 2)
        let events = watcher.events.subscribe()
        _ = try await PostgresTestDatabase.waitForListener(schema: schema)
        let orders = try await Self.createOrders(schema)
        let logger = PostgresTestDatabase.testLogger
        let job = try await PostgresTestDatabase.withConnection { connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("INSERT INTO \(unescaped: orders) (id) VALUES (1)", logger: logger)
                let results = try await store.enqueue([NewJob(name: "mail.receipt", payload: JSONPayload(unchecked: #"{"order":1}"#),
                                                              queue: "receipts")], on: connection)
                #expect(results.map(\.inserted) == [true])
                #expect(try await store.job(results[0].job.id) == nil, "other connections see nothing before the commit")
                return results[0].job
            }
        }
        let stored = try #require(try await store.job(job.id), "the job exists after the commit")
        #expect(stored.state == .available)
        #expect(stored.payload.value == .object(["order": .number(1)]))
        #expect(try await Self.count(orders) == 1)
        let event = await firstEvent(in: events) { $0 == .jobsAvailable(queues: ["receipts"]) }
        #expect(event != nil, "the NOTIFY went out with the commit")
    }

    @Test func aRolledBackTransactionLeavesNoJob() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let store = try await PostgresStore(url: url, maximumConnections: 2)
        let orders = try await Self.createOrders(schema)
        let logger = PostgresTestDatabase.testLogger
        var enqueued: JobID?
        do {
            try await PostgresTestDatabase.withConnection { connection in
                try await connection.withTransaction(logger: logger) { connection in
                    try await connection.query("INSERT INTO \(unescaped: orders) (id) VALUES (1)", logger: logger)
                    enqueued = try await store.enqueue([NewJob(name: "mail.receipt", uniqueKey: "order-1")], on: connection)[0].job.id
                    throw Abort()
                }
            }
            Issue.record("the transaction was meant to roll back")
        } catch let error as PostgresTransactionError {
            #expect(error.closureError is Abort && error.rollbackError == nil, "rolled back")
        }
        let id = try #require(enqueued, "the enqueue itself succeeded")
        #expect(try await store.job(id) == nil, "the job went with the rollback")
        #expect(try await store.jobs(JobQuery()).jobs.isEmpty)
        #expect(try await Self.count(orders) == 0)
        let again = try await store.insert([NewJob(name: "mail.receipt", uniqueKey: "order-1")], now: Date())
        #expect(again.map(\.inserted) == [true], "the rolled-back job holds no unique key")
    }

    @Test func anUnknownQuotaInsertsNothingAndLeavesTheTransactionUsable() async throws {
        let (url, schema) = try await PostgresTestDatabase.freshURL()
        let store = try await PostgresStore(url: url, maximumConnections: 2)
        try await store.createQuota("known")
        let orders = try await Self.createOrders(schema)
        let logger = PostgresTestDatabase.testLogger
        try await PostgresTestDatabase.withConnection { connection in
            try await connection.withTransaction(logger: logger) { connection in
                let error = await #expect(throws: SpoolError.self) {
                    try await store.enqueue([NewJob(name: "a", quotas: ["known"]), NewJob(name: "b", quotas: ["nope"])], on: connection)
                }
                #expect(error?.code == .unknownQuota)
                try await connection.query("INSERT INTO \(unescaped: orders) (id) VALUES (7)", logger: logger)
            }
        }
        #expect(try await Self.count(orders) == 1, "the application's own work committed")
        #expect(try await store.jobs(JobQuery()).jobs.isEmpty, "neither job was stored")
    }

    /// Creates an application table beside the store's schema; returns its qualified name.
    private static func createOrders(_ schema: String) async throws -> String {
        let table = "\(schema).app_orders"
        _ = try await PostgresTestDatabase.withConnection { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE TABLE \(table) (id bigint PRIMARY KEY)"),
                                       logger: PostgresTestDatabase.testLogger)
        }
        return table
    }

    private static func count(_ table: String) async throws -> Int {
        try await PostgresTestDatabase.withConnection { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), logger: PostgresTestDatabase.testLogger)
                .decode(Int.self).first { _ in true } ?? -1
        }
    }
}
