import Foundation
@testable import SpoolReplicationSQLite
import SpoolTestSupport
import Testing

/// A snapshot's file, written in aligned blocks straight to the disk where the file system
/// allows it and through the page cache where it does not.
@Suite("Replication: a snapshot's file written in blocks")
struct SequentialFileTests {
    /// Bytes no two offsets of which are likely to agree by chance.
    private static func bytes(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9 &+ Int(seed)) }
    }

    /// Appends of odd sizes across block boundaries, ending in a tail that is no whole number
    /// of aligned blocks, read back byte for byte: in a temporary directory of the disk, and
    /// in `/dev/shm` (tmpfs, which refuses direct writes) when there is one.
    @Test("appends of any size read back byte for byte, on a disk and on tmpfs, with a tail that is no whole block")
    func roundTrip() throws {
        let directory = try TemporaryDirectory()
        var places = [directory.path("snapshot")]
        if FileManager.default.fileExists(atPath: "/dev/shm") { places.append("/dev/shm/spool-test-\(UUID().uuidString)") }
        for path in places {
            defer { if path.hasPrefix("/dev/shm") { try? FileManager.default.removeItem(atPath: path) } }
            let pieces = [Self.bytes(4_096, seed: 1), Self.bytes(SequentialFile.blockSize - 4_096 + 512, seed: 2),
                          Self.bytes(3 * SequentialFile.blockSize + 7, seed: 3), Self.bytes(1_000, seed: 4)]
            let file = try SequentialFile(path: path)
            for piece in pieces { try file.append(piece) }
            try file.finish()
            let written = try #require(FileManager.default.contents(atPath: path))
            #expect(written.count == pieces.reduce(0) { $0 + $1.count }, "\(path)")
            #expect(Array(written) == pieces.flatMap { $0 }, "\(path) holds what was appended, in order")
        }
    }

    @Test("a file abandoned before its end is closed without error, and one begun again starts empty")
    func abandonAndAgain() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("snapshot")
        let first = try SequentialFile(path: path)
        try first.append(Self.bytes(2 * SequentialFile.blockSize, seed: 5))
        first.abandon()
        let second = try SequentialFile(path: path)
        try second.append(Self.bytes(10, seed: 6))
        try second.finish()
        #expect(FileManager.default.contents(atPath: path).map(Array.init) == Self.bytes(10, seed: 6))
    }
}
