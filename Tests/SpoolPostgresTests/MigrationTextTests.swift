import Foundation
@testable import SpoolPostgres
import SpoolTestSupport
import Testing

/// A released migration is frozen: its SQL (written for the schema `spool`) must never change
/// (a change is a new migration). These are the FNV-1a checksums of each released migration's
/// statements; a new migration adds a line.
@Suite("Released PostgreSQL migrations")
struct PostgresMigrationTextTests {
    static let released: [(id: String, checksum: UInt64)] = [
        ("1-jobs", 0x3aad087289c0686d),
        ("2-queue-index", 0x8ab71c950a073fcb),
        ("3-finish-and-claim", 0x36125b8be998aec1),
        ("4-job-ends", 0xdcc39c75f3b04957),
        ("5-messages", 0x4c357dd6e5cb0a48),
        ("6-retention", 0x49fc429a656334fc),
        ("7-job-counts", 0x6c74f380fda20c4a),
        ("8-trace-context", 0xad1e32d0607abb36),
        ("9-vacuum-pace", 0xdf844a3dbea0dd06),
        ("10-plain-completions", 0xc8d7ecdde0ad8afb),
        ("11-claim-floor", 0xa1f45b445a29d624),
        ("12-vacuum-pace", 0xc32d2be9afeb1622),
        ("13-unusual-states", 0x743c950e128eb062),
        ("14-keys-from-ids", 0xb8ba0eade3b418a9),
        ("15-completions-by-key", 0x920cb9635285776c),
        ("16-dispatcher-step", 0x8ac077b49eb8bd99),
    ]

    @Test("every released migration's text is unchanged, in order")
    func frozen() {
        let current = PostgresSchema(name: "spool").migrations.map { ($0.id, TextChecksum.fnv1a($0.statements.joined(separator: "\n;\n"))) }
        for (index, migration) in Self.released.enumerated() {
            #expect(index < current.count && current[index].0 == migration.id, "migration \(migration.id) is still at \(index + 1)")
            #expect(index < current.count && current[index].1 == migration.checksum,
                    "the text of released migration \(migration.id) changed (now \(String(current[index].1, radix: 16))); add a new migration instead")
        }
    }
}
