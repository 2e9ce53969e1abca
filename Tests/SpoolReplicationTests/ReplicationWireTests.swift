import SpoolCore
import SpoolReplication
import SpoolTestSupport
import Testing

/// The replication protocol's frames: every message round-trips, in any pieces; whatever a peer
/// sends is a message or an error naming what is wrong, never a trap.
@Suite("Replication wire format")
struct ReplicationWireTests {
    static let checksum = (0..<32).map { UInt8($0 * 7 & 0xFF) }
    static let messages: [ReplicationMessage] = [
        .hello(version: ReplicationMessage.version, term: 0, position: .empty),
        .hello(version: 9, term: 1 << 50 | 3, position: ReplicationPosition(transaction: 1 << 40 | 7, checksum: checksum)),
        .begin(transaction: 42), .page(number: 3, bytes: (0..<4096).map { UInt8(truncatingIfNeeded: $0) }), .page(number: 0, bytes: []),
        .commit(transaction: 42, pages: 17, checksum: checksum, capturedAt: 1_765_000_000_123_456), .keepAlive(transaction: 1 << 45 | 9),
        .applied(transaction: 77), .refusal("checksum mismatch at transaction 42 — stop"),
        .snapshot(term: 7, position: ReplicationPosition(transaction: 1 << 33 | 5, checksum: checksum), pageSize: 65_536, pages: 1 << 31 | 3),
        .snapshotEnd(digest: checksum.reversed()),
    ]

    @Test("every message decodes to itself, whole or fed a byte at a time, several in one buffer")
    func roundTrip() throws {
        var whole = ReplicationDecoder()
        whole.feed(Self.messages.flatMap(\.frame))
        var decoded: [ReplicationMessage] = []
        while let message = try whole.next() { decoded.append(message) }
        #expect(decoded == Self.messages)
        var trickle = ReplicationDecoder()
        var trickled: [ReplicationMessage] = []
        for byte in Self.messages.flatMap(\.frame) {
            trickle.feed([byte])
            while let message = try trickle.next() { trickled.append(message) }
        }
        #expect(trickled == Self.messages)
    }

    @Test("a page frame written from its header and the page's own bytes is the page message's frame")
    func pageFrameHeader() {
        let page = (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 3) }
        #expect(ReplicationMessage.pageFrameHeader(number: 70_000, size: page.count) + page
            == ReplicationMessage.page(number: 70_000, bytes: page).frame)
    }

    @Test("malformed frames are refused by name")
    func malformed() {
        func refusal(_ bytes: [UInt8]) -> ReplicationWireError? {
            var decoder = ReplicationDecoder()
            decoder.feed(bytes)
            do {
                _ = try decoder.next()
                return nil
            } catch {
                return error
            }
        }
        #expect(refusal([0, 0, 0, 0]) == .emptyFrame)
        #expect(refusal([0, 2, 0, 1]) == .frameTooLarge(0x20001))
        #expect(refusal([0, 0, 0, 1, 99]) == .unknownType(99))
        #expect(refusal([0, 0, 0, 3, 2, 0, 1]) == .truncated("transaction"))
        #expect(refusal([0, 0, 0, 2, 5, 0]) == .truncated("transaction"))
        #expect(refusal([0, 0, 0, 10, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0]) == .trailingBytes(type: 5, count: 1))
        var wrong = ReplicationMessage.hello(version: 1, term: 1, position: .empty).frame
        wrong[7] = UInt8(ascii: "x")
        #expect(refusal(wrong) == .notReplication("xpool-replication"))
        #expect(refusal([0, 0, 0, 9, 4, 0, 0, 0, 0, 0, 0, 0, 1]) == .truncated("database size"))
    }

    @Test("random and mutated bytes decode or fail by name; nothing traps")
    func fuzz() async {
        var random = SeededRandom(seed: 0x5245_504C)
        let seeds = Self.messages.map(\.frame)
        for round in 0..<50_000 {
            var bytes: [UInt8]
            if Bool.random(using: &random) {
                bytes = seeds.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
                if Bool.random(using: &random) { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random))) }
            } else {
                bytes = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
            var decoder = ReplicationDecoder()
            decoder.feed(bytes)
            while let message = try? decoder.next() {
                var again = ReplicationDecoder()
                again.feed(message.frame)
                #expect((try? again.next()) == message, "a decoded message re-encodes to itself")
            }
            if round % 200 == 0 { await Task.yield() }
        }
    }
}
