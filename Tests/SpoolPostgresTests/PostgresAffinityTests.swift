import Foundation
import Logging
import NIOPosix
import PostgresNIO
import SpoolCore
@testable import SpoolPostgres
import SpoolTestSupport
import Testing

/// Which pooled connection a caller on an event loop gets, and a store's calls from
/// ``PostgresStore/withAffinity(_:)``.
@Suite("PostgreSQL connections of the caller's event loop", .enabled(if: PostgresServer.shouldRun))
struct PostgresAffinityTests {
    private static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    private static func pool(maximum: Int) async throws -> PostgresPool {
        let (server, database) = try await PostgresTestDatabase.get()
        return PostgresPool(configuration: .init(host: "127.0.0.1", port: server.port, username: "postgres", password: nil,
                                                 database: database, tls: .disable),
                            maximum: maximum, logger: PostgresTestDatabase.testLogger)
    }

    /// The backend process id of the connection `pool` lends a caller running on `loop` (any
    /// thread when `nil`), and whether that connection belongs to the caller's loop.
    private static func lent(by pool: PostgresPool, on loop: (any EventLoop)?) async throws -> (pid: Int32, sameLoop: Bool) {
        @Sendable func use() async throws -> (pid: Int32, sameLoop: Bool) {
            try await pool.withConnection { connection in
                let pid = try await connection.query("SELECT pg_backend_pid()", logger: PostgresTestDatabase.testLogger)
                    .decode(Int32.self).first { _ in true } ?? 0
                return (pid, connection.eventLoop === loop)
            }
        }
        guard let loop else { return try await use() }
        return try await withTaskExecutorPreference(ConnectionLoopExecutor(loop)) { try await use() }
    }

    @Test("a caller on an event loop gets that loop's connection, opened there while the pool has room, even with another loop's idle")
    func ownLoop() async throws {
        let pool = try await Self.pool(maximum: 4)
        defer { pool.close() }
        let (a, b) = (Self.loops.next(), Self.loops.next())
        #expect(a !== b)
        let first = try await Self.lent(by: pool, on: a)
        let second = try await Self.lent(by: pool, on: b)
        #expect(first.sameLoop && second.sameLoop)
        #expect(first.pid != second.pid, "loop b's caller opened a connection of its own although loop a's was idle")
        let again = try await Self.lent(by: pool, on: a)
        #expect(again.sameLoop && again.pid == first.pid, "loop a's connection again, not the one returned last (b's)")
        let anywhere = try await Self.lent(by: pool, on: nil)
        #expect([first.pid, second.pid].contains(anywhere.pid), "a caller on no loop takes an idle connection and opens none")
    }

    @Test("at its maximum the pool lends a caller on another loop an idle connection of any loop")
    func atTheMaximum() async throws {
        let pool = try await Self.pool(maximum: 1)
        defer { pool.close() }
        let (a, b) = (Self.loops.next(), Self.loops.next())
        let first = try await Self.lent(by: pool, on: a)
        let other = try await Self.lent(by: pool, on: b)
        #expect(first.sameLoop && !other.sameLoop && other.pid == first.pid)
    }

    @Test("withAffinity runs its body on one event loop across the store's calls, and the calls work")
    func storeCalls() async throws {
        let store = try await PostgresTestDatabase.freshStore()
        let outcome = try await store.withAffinity { () async throws -> (loops: [ObjectIdentifier?], jobs: [JobID]) in
            var loops = [MultiThreadedEventLoopGroup.currentEventLoop.map(ObjectIdentifier.init)]
            var jobs: [JobID] = []
            for index in 0..<5 {
                let inserted = try await store.insert([NewJob(name: "affine", payload: try JSONPayload(encoding: ["i": index]))], now: Date())
                jobs.append(inserted[0].job.id)
                loops.append(MultiThreadedEventLoopGroup.currentEventLoop.map(ObjectIdentifier.init))
            }
            return (loops, jobs)
        }
        #expect(outcome.loops.first! != nil, "the body runs on an event loop")
        #expect(Set(outcome.loops).count == 1, "and stays on it after each call")
        for id in outcome.jobs {
            #expect(try await store.job(id)?.state == .available)
        }
        await store.close()
    }
}
