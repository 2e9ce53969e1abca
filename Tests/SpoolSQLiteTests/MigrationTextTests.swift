import Foundation
@testable import SpoolSQLite
import SpoolTestSupport
import Testing

/// A released migration is frozen: its SQL must never change (a change is a new migration).
/// These are the FNV-1a checksums of each released migration's text; a new migration adds a line.
@Suite("Released SQLite migrations")
struct MigrationTextTests {
    static let released: [(id: String, checksum: UInt64)] = [
        ("1-jobs", 0x41b4b2c10a8a6f36),
        ("2-messages", 0xab0d032fa1859f2a),
        ("3-priority-index", 0x508a6358ec8c7f1),
        ("4-seq-from-id", 0x1045429be62d6f20),
        ("5-job-ends", 0x4cf0742818361f01),
        ("6-message-order-keys", 0x9f7d3fd90a54cc66),
        ("7-finished-index", 0x30b3edae4f414462),
        ("8-job-counts", 0x1a1c31da868961f1),
        ("9-trace-context", 0x4060c8f52fb385f1),
        ("10-messages-in-order", 0x6d5c9f31ebd43048),
        ("11-ends-before-numbers", 0x91cbe563c3ebe4c1),
    ]

    @Test("every released migration's text is unchanged, in order")
    func frozen() {
        let current = SQLiteSchema.migrations.map { ($0.id, TextChecksum.fnv1a($0.sql)) }
        for (index, migration) in Self.released.enumerated() {
            #expect(index < current.count && current[index].0 == migration.id, "migration \(migration.id) is still at \(index + 1)")
            #expect(index < current.count && current[index].1 == migration.checksum,
                    "the text of released migration \(migration.id) changed (now \(String(current[index].1, radix: 16))); add a new migration instead")
        }
    }
}
