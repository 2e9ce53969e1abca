import Foundation
import SpoolCore
import SpoolReplication
@testable import SpoolReplicationSQLite
import SpoolTestSupport
import Testing

/// A secondary records each batch as pending before writing it into its copy; one starting
/// after a crash tells from the copy's change counter whether the batch went in.
@Suite("Replication: a secondary's pending batch after a crash")
struct PendingWriteTests {
    private static func position(_ transaction: UInt64) -> ReplicationPosition {
        ReplicationPosition(transaction: transaction, checksum: Array(repeating: UInt8(truncatingIfNeeded: transaction), count: 32))
    }

    private static func transaction(_ number: UInt64) -> ReplicationTransaction {
        ReplicationTransaction(number: number, pages: [.init(number: 1, bytes: ReplicaFileTests.page(512, 1, number)),
                                                       .init(number: 2, bytes: ReplicaFileTests.page(512, 2, number))],
                               databasePages: 2, checksum: position(number).checksum)
    }

    /// A copy holding transaction 1, its position file saying so and naming transaction 2 as
    /// pending; with `finished`, transaction 2 is in the copy too.
    private static func copy(in directory: TemporaryDirectory, finished: Bool) throws -> String {
        let path = directory.path("copy.db")
        let replica = try ReplicaFile(path: path)
        try replica.apply([transaction(1)])
        let standing = PositionFile.Standing(term: 3, position: position(1))
        try PositionFile(path: path + "-replication").write(standing, pending: .init(position: position(2), counter: try replica.changeCounter() &+ 1))
        if finished { try replica.apply([transaction(2)]) }
        return path
    }

    @Test("a secondary stands at the batch's end if its write finished, and where it stood before it otherwise", arguments: [true, false])
    func afterCrash(finished: Bool) throws {
        let directory = try TemporaryDirectory()
        let secondary = try ReplicationSecondary(path: try Self.copy(in: directory, finished: finished), primaryHost: "127.0.0.1", port: 1)
        #expect(secondary.position == Self.position(finished ? 2 : 1))
        #expect(secondary.term == 3)
    }

    @Test("a position file of the previous format (no pending write) is read as it was written")
    func previousFormat() throws {
        let directory = try TemporaryDirectory()
        var bytes = PositionFile.previousMagic
        bytes += [0, 0, 0, 0, 0, 0, 0, 7] + [0, 0, 0, 0, 0, 0, 1, 0] + Self.position(256).checksum
        try Data(bytes).write(to: URL(fileURLWithPath: directory.path("old-replication")))
        let record = try #require(try PositionFile(path: directory.path("old-replication")).readRecord())
        #expect(record.standing == PositionFile.Standing(term: 7, position: Self.position(256)))
        #expect(record.pending == nil)
        bytes[0] = UInt8(ascii: "x")   // the same length with another first line is refused
        try Data(bytes).write(to: URL(fileURLWithPath: directory.path("bad-replication")))
        #expect(throws: SpoolError.self) { try PositionFile(path: directory.path("bad-replication")).readRecord() }
    }
}
