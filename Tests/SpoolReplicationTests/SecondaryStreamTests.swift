import SpoolCore
import SpoolReplication
import Testing

/// The secondary's side of the stream without sockets: a transaction is applied only whole,
/// after its commit, with a checksum that follows from the secondary's history.
@Suite("Replication: the secondary's stream")
struct SecondaryStreamTests {
    /// A history of `count` transactions from an empty store, each writing two pages.
    static func history(_ count: Int, from start: ReplicationPosition = .empty) -> [ReplicationTransaction] {
        var checksum = start.checksum
        return (0..<count).map { index in
            let number = start.transaction + UInt64(index) + 1
            var transaction = ReplicationTransaction(number: number, pages: [.init(number: 1, bytes: Array(repeating: UInt8(index), count: 4096)),
                                                                            .init(number: UInt32(index + 2), bytes: [1, 2, 3])],
                                                     databasePages: UInt32(index + 2), checksum: [])
            transaction.checksum = transaction.checksum(after: checksum)
            checksum = transaction.checksum
            return transaction
        }
    }

    @Test("transactions in order are applied whole at their commits; keep-alives change nothing; the position follows")
    func inOrder() throws {
        var stream = SecondaryStream(position: .empty)
        #expect(stream.hello == .hello(version: 1, position: .empty))
        var applied: [ReplicationTransaction] = []
        for transaction in Self.history(3) {
            for message in transaction.messages + [.keepAlive] {
                if case .apply(let whole) = try stream.receive(message) { applied.append(whole) }
            }
        }
        #expect(applied == Self.history(3))
        #expect(stream.position == ReplicationPosition(transaction: 3, checksum: Self.history(3)[2].checksum))
    }

    @Test("a checksum that does not follow, a gap, a page outside a transaction or a commit of another end the stream unapplied")
    func refusals() throws {
        let history = Self.history(2)
        var tampered = history[0]
        tampered.pages[0].bytes[0] ^= 1
        func outcome(_ messages: [ReplicationMessage]) -> (applied: Int, error: ReplicationStreamError?) {
            var stream = SecondaryStream(position: .empty)
            var applied = 0
            do {
                for message in messages { if case .apply = try stream.receive(message) { applied += 1 } }
                return (applied, nil)
            } catch {
                return (applied, error)
            }
        }
        #expect(outcome(tampered.messages.dropLast() + [history[0].messages.last!]) == (0, .checksumMismatch(transaction: 1)))
        #expect(outcome(history[1].messages) == (0, .outOfOrder("transaction 2 begins after 0")))
        #expect(outcome([.page(number: 1, bytes: [])]) == (0, .outOfOrder("page 1 was not expected here")))
        #expect(outcome([.begin(transaction: 1), .commit(transaction: 2, pages: 1, checksum: [])]) == (0, .outOfOrder("commit of 2 inside transaction 1")))
        #expect(outcome(history[0].messages + [.refusal("position unknown")]) == (1, .refused("position unknown")))
    }

    @Test("a transaction cut off mid-stream is discarded; after reconnecting the stream resumes from the position")
    func cutOff() throws {
        let history = Self.history(2)
        var stream = SecondaryStream(position: .empty)
        for message in history[0].messages { _ = try stream.receive(message) }
        for message in history[1].messages.dropLast() { #expect(try stream.receive(message) == .none) }
        stream.disconnected()
        #expect(stream.hello == .hello(version: 1, position: ReplicationPosition(transaction: 1, checksum: history[0].checksum)))
        var applied: ReplicationTransaction?
        for message in history[1].messages { if case .apply(let whole) = try stream.receive(message) { applied = whole } }
        #expect(applied == history[1], "the whole transaction again, applied once")
    }
}
