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

    @Test("position files of the two earlier formats are read as they were written, and the first write replaces them with this format's")
    func earlierFormats() throws {
        let directory = try TemporaryDirectory()
        var oldest = PositionFile.oldestMagic
        oldest += [0, 0, 0, 0, 0, 0, 0, 7] + [0, 0, 0, 0, 0, 0, 1, 0] + Self.position(256).checksum
        try Data(oldest).write(to: URL(fileURLWithPath: directory.path("oldest-replication")))
        let record = try #require(try PositionFile(path: directory.path("oldest-replication")).readRecord())
        #expect(record.standing == PositionFile.Standing(term: 7, position: Self.position(256)))
        #expect(record.pending == nil)
        var previous = PositionFile.previousMagic
        previous += [0, 0, 0, 0, 0, 0, 0, 7] + [0, 0, 0, 0, 0, 0, 1, 0] + Self.position(256).checksum
        previous += [0, 0, 0, 0, 0, 0, 1, 1] + Self.position(257).checksum + [0, 0, 0, 9]
        let path = directory.path("previous-replication")
        try Data(previous).write(to: URL(fileURLWithPath: path))
        let pending = try #require(try PositionFile(path: path).readRecord())
        #expect(pending.standing == PositionFile.Standing(term: 7, position: Self.position(256)))
        #expect(pending.pending == PositionFile.Pending(position: Self.position(257), counter: 9))
        try PositionFile(path: path).write(PositionFile.Standing(term: 7, position: Self.position(300)))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 2 * PositionFile.recordSize)
        #expect(try PositionFile(path: path).readRecord()?.standing == PositionFile.Standing(term: 7, position: Self.position(300)))
        oldest[0] = UInt8(ascii: "x")   // the same length with another first line is refused
        try Data(oldest).write(to: URL(fileURLWithPath: directory.path("bad-replication")))
        #expect(throws: SpoolError.self) { try PositionFile(path: directory.path("bad-replication")).readRecord() }
    }

    @Test("each write goes in place of the older of two records: a write cut short leaves the one before it, whichever record it spoils")
    func tornWrites() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("copy.db-replication")
        let file = PositionFile(path: path)
        for number in 1...5 as ClosedRange<UInt64> {
            try file.write(PositionFile.Standing(term: 2, position: Self.position(number)),
                           pending: number % 2 == 0 ? PositionFile.Pending(position: Self.position(number + 1), counter: UInt32(number)) : nil)
            let read = try #require(try PositionFile(path: path).readRecord())
            #expect(read.standing.position == Self.position(number))
            #expect(read.pending == (number % 2 == 0 ? PositionFile.Pending(position: Self.position(number + 1), counter: UInt32(number)) : nil))
        }
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(whole.count == 2 * PositionFile.recordSize)
        // The fifth write went into the second record (odd sequence numbers do): spoil each record in turn.
        for (offset, expected) in [(PositionFile.recordSize + 40, UInt64(4)), (40, 5)] {
            var damaged = whole
            damaged[offset] ^= 0xFF
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            #expect(try PositionFile(path: path).read()?.position == Self.position(expected))
        }
        var both = whole
        both[40] ^= 0xFF
        both[PositionFile.recordSize + 40] ^= 0xFF
        try Data(both).write(to: URL(fileURLWithPath: path))
        #expect(throws: SpoolError.self) { try PositionFile(path: path).readRecord() }
        // A file made for its first record whose first write was cut short never held a position.
        var first = [UInt8](repeating: 0, count: 2 * PositionFile.recordSize)
        first.replaceSubrange(PositionFile.recordSize..<(PositionFile.recordSize + 40), with: whole[PositionFile.recordSize..<(PositionFile.recordSize + 40)])
        try Data(first).write(to: URL(fileURLWithPath: path))
        #expect(try PositionFile(path: path).readRecord() == nil)
        // A write after reopening goes on from the newest record.
        try Data(whole).write(to: URL(fileURLWithPath: path))
        try PositionFile(path: path).write(PositionFile.Standing(term: 2, position: Self.position(6)))
        var damaged = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        damaged[40] ^= 0xFF   // the sixth went into the first record
        try Data(damaged).write(to: URL(fileURLWithPath: path))
        #expect(try PositionFile(path: path).read()?.position == Self.position(5))
    }
}
