import Foundation
import SpoolCore
import SpoolReplication
import SpoolReplicationSQLite
import SpoolTestSupport
import Testing

/// Writing a batch of transactions to a copy at once leaves the same file as writing them one by
/// one, though only each page's last version is written.
@Suite("Replication: writing a copy in batches")
struct ReplicaFileTests {
    @Test("random transactions that grow and shrink the file, in random batches: the same bytes as one by one", arguments: 1...20)
    func batchesEqualOneByOne(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let pageSize = 512
        var size: UInt32 = 1
        var transactions: [ReplicationTransaction] = []
        for number in 1...UInt64(40) {
            // Mostly growth, sometimes a shrink (as an incremental vacuum commits).
            size = Int.random(in: 0..<5, using: &random) == 0 ? UInt32(max(1, Int(size) - Int.random(in: 0..<4, using: &random))) : size + UInt32(Int.random(in: 0..<3, using: &random))
            var pages: [ReplicationTransaction.Page] = [ReplicationTransaction.Page(number: 1, bytes: Self.page(pageSize, 1, number))]
            for _ in 0..<Int.random(in: 0..<4, using: &random) {
                let page = 1 + UInt32(Int.random(in: 0..<Int(size), using: &random))
                pages.append(ReplicationTransaction.Page(number: page, bytes: Self.page(pageSize, page, number)))
            }
            transactions.append(ReplicationTransaction(number: number, pages: pages, databasePages: size, checksum: []))
        }
        let directory = try TemporaryDirectory()
        let single = try ReplicaFile(path: directory.path("single.db")), batched = try ReplicaFile(path: directory.path("batched.db"))
        var rest = transactions[...]
        while !rest.isEmpty {
            let count = Int.random(in: 1...8, using: &random)
            try batched.apply(Array(rest.prefix(count)))
            for transaction in rest.prefix(count) { try single.apply([transaction]) }
            rest = rest.dropFirst(count)
            let (one, all) = (try Self.content(single.path), try Self.content(batched.path))
            let same = one == all
            #expect(same, "seed \(seed), \(rest.count) left: \(one.count) and \(all.count) bytes, first difference at \((0..<min(one.count, all.count)).first { one[$0] != all[$0] } ?? -1)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: batched.path)).count == Int(size) * pageSize)
    }

    /// A page whose bytes name its number and the transaction that wrote it.
    static func page(_ size: Int, _ number: UInt32, _ transaction: UInt64) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 % 2 == 0 ? UInt64(number) : transaction) }
    }

    /// The file without the header fields each write changes (its change counters).
    static func content(_ path: String) throws -> [UInt8] {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        for index in [24, 25, 26, 27, 92, 93, 94, 95] where index < bytes.count { bytes[index] = 0 }
        return bytes
    }
}
