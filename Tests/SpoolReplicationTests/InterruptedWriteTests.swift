import Foundation
import SpoolCore
import SpoolReplication
@testable import SpoolReplicationSQLite
import SpoolTestSupport
import Testing

/// A copy written as SQLite writes a database in rollback mode, read by SQLite itself: a write
/// cut short is undone by the first connection that opens the copy, a committed one is never
/// undone, and the journal kept between writes is never taken for a hot one.
@Suite("Replication: a copy's write cut short, and its journal kept between writes")
struct InterruptedWriteTests {
    /// Every page of the SQLite database at `path`, as one transaction numbered `number`.
    private static func transaction(of path: String, number: UInt64) throws -> ReplicationTransaction {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var pages: [ReplicationTransaction.Page] = []
        for offset in stride(from: 0, to: bytes.count, by: 4096) {
            pages.append(ReplicationTransaction.Page(number: UInt32(offset / 4096 + 1), bytes: Array(bytes[offset..<(offset + 4096)])))
        }
        return ReplicationTransaction(number: number, pages: pages, databasePages: UInt32(pages.count), checksum: [])
    }

    /// The rows of `t` in the database at `path` and its integrity check, as SQLite reads them.
    private static func read(_ path: String) throws -> (rows: Int64, integrity: String?) {
        let connection = try SQLiteHandle(path: path)
        return (try connection.integers("SELECT count(*) FROM t").first ?? -1, try connection.text("PRAGMA integrity_check"))
    }

    private static func journalIsHot(_ copy: String) throws -> Bool {
        guard let bytes = FileManager.default.contents(atPath: copy + "-journal") else { return false }
        return bytes.first.map { $0 != 0 } ?? false
    }

    @Test("a write stopped halfway leaves a hot journal that SQLite plays back; committed writes, one after another, are read as written")
    func interruptedThenCommitted() throws {
        let directory = try TemporaryDirectory()
        let source = directory.path("source.db"), copy = directory.path("copy.db")
        let writer = try SQLiteHandle(path: source, create: true)
        try writer.execute("CREATE TEMP VIEW numbers AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 400) SELECT n FROM c")
        try writer.execute("CREATE TABLE t(x BLOB); INSERT INTO t SELECT randomblob(300) FROM numbers WHERE n <= 100")
        let replica = try ReplicaFile(path: copy)
        let start = try Self.transaction(of: source, number: 1)
        try replica.apply([start])
        #expect(try Self.read(copy) == (100, "ok"))

        try writer.execute("INSERT INTO t SELECT randomblob(300) FROM numbers WHERE n <= 400; UPDATE t SET x = randomblob(200) WHERE rowid % 3 = 0")
        let grown = try Self.transaction(of: source, number: 2)
        #expect(grown.pages.count > start.pages.count + 10)
        #expect(throws: ReplicaFile.Interrupted.self) { try replica.apply([grown], stoppingAfter: grown.pages.count / 2) }
        #expect(try Self.journalIsHot(copy))
        #expect(try Self.read(copy) == (100, "ok"))
        #expect(try !Self.journalIsHot(copy))

        for (round, statement) in ["DELETE FROM t WHERE rowid % 2 = 0", "INSERT INTO t SELECT randomblob(100) FROM numbers WHERE n <= 50"].enumerated() {
            try writer.execute(statement)
            try replica.apply([try Self.transaction(of: source, number: UInt64(3 + round))])
            #expect(FileManager.default.fileExists(atPath: copy + "-journal"), "the journal is kept between writes")
            #expect(try !Self.journalIsHot(copy))
            #expect(try Self.read(copy) == (try Self.read(source).rows, "ok"))
        }
        #expect(try Self.read(copy).rows == 300)
    }
}
