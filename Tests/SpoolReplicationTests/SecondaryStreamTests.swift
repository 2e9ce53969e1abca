import Foundation
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
        var stream = SecondaryStream(position: .empty, term: 1)
        #expect(stream.hello == .hello(version: 1, term: 1, position: .empty))
        var applied: [ReplicationTransaction] = []
        for transaction in Self.history(3) {
            for message in transaction.messages + [.keepAlive(transaction: 3)] {
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
            var stream = SecondaryStream(position: .empty, term: 1)
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
        #expect(outcome([.begin(transaction: 1), .commit(transaction: 2, pages: 1, checksum: [], capturedAt: 0)]) == (0, .outOfOrder("commit of 2 inside transaction 1")))
        #expect(outcome(history[0].messages + [.refusal("position unknown")]) == (1, .refused("position unknown")))
    }

    @Test("a transaction cut off mid-stream is discarded; after reconnecting the stream resumes from the position")
    func cutOff() throws {
        let history = Self.history(2)
        var stream = SecondaryStream(position: .empty, term: 1)
        for message in history[0].messages { _ = try stream.receive(message) }
        for message in history[1].messages.dropLast() { #expect(try stream.receive(message) == .none) }
        stream.disconnected()
        #expect(stream.hello == .hello(version: 1, term: 1, position: ReplicationPosition(transaction: 1, checksum: history[0].checksum)))
        var applied: ReplicationTransaction?
        for message in history[1].messages { if case .apply(let whole) = try stream.receive(message) { applied = whole } }
        #expect(applied == history[1], "the whole transaction again, applied once")
    }

    /// A snapshot at `position` of `pages` pages of 512 bytes, as the primary sends it.
    static func snapshot(at position: ReplicationPosition, pages: UInt32) -> [ReplicationMessage] {
        var digest = SnapshotDigest(term: 2, position: position, pageSize: 512, pages: pages)
        let content = (1...pages).map { page in Array(repeating: UInt8(truncatingIfNeeded: page), count: 512) }
        for page in content { digest.update(page) }
        return [.snapshot(term: 2, position: position, pageSize: 512, pages: pages)]
            + content.enumerated().map { .page(number: UInt32($0.offset + 1), bytes: $0.element) }
            + [.snapshotEnd(digest: digest.finalize())]
    }

    @Test("a snapshot hands out its pages in order and moves the position only at its verified end; transactions follow from there")
    func snapshot() throws {
        let at = ReplicationPosition(transaction: 7, checksum: Array(repeating: 3, count: 32))
        var stream = SecondaryStream(position: ReplicationPosition(transaction: 2, checksum: Array(repeating: 9, count: 32)), term: 1)
        var actions: [SecondaryStream.Action] = []
        for message in Self.snapshot(at: at, pages: 3) {
            actions.append(try stream.receive(message))
            if actions.count < 5 { #expect(stream.position.transaction == 2, "not before the end") }
        }
        #expect(actions.first == .beginSnapshot(position: at, pageSize: 512, pages: 3))
        #expect(actions.dropFirst().prefix(3).map { action -> UInt32 in
            guard case .snapshotPage(let number, _) = action else { return 0 }
            return number
        } == [1, 2, 3])
        #expect(actions.last == .finishSnapshot(term: 2, position: at) && stream.position == at && stream.term == 2, "the copy is now of term 2")
        var applied: [ReplicationTransaction] = []
        for transaction in Self.history(2, from: at) {
            for message in transaction.messages { if case .apply(let whole) = try stream.receive(message) { applied.append(whole) } }
        }
        #expect(applied.map(\.number) == [8, 9])
    }

    @Test("a snapshot with a flipped byte, a missing or repeated page, a wrong page size or an end too early is refused; the position stays")
    func snapshotRefusals() throws {
        let at = ReplicationPosition(transaction: 7, checksum: Array(repeating: 3, count: 32))
        func outcome(_ messages: [ReplicationMessage]) -> ReplicationStreamError? {
            var stream = SecondaryStream(position: .empty, term: 1)
            defer { #expect(stream.position == .empty) }
            do {
                for message in messages { _ = try stream.receive(message) }
                return nil
            } catch {
                return error
            }
        }
        var flipped = Self.snapshot(at: at, pages: 3)
        if case .page(let number, var bytes) = flipped[2] {
            bytes[100] ^= 0x10
            flipped[2] = .page(number: number, bytes: bytes)
        }
        #expect(outcome(flipped) == .snapshotMismatch(transaction: 7))
        let whole = Self.snapshot(at: at, pages: 3)
        #expect(outcome(whole.enumerated().filter { $0.offset != 2 }.map(\.element))
            == .outOfOrder("snapshot page 3 of 512 bytes where page 2 of 512 was due"))
        #expect(outcome(Array(whole.prefix(3)) + [whole.last!]) == .outOfOrder("the snapshot ended after 2 of its 3 pages"))
        #expect(outcome([.snapshot(term: 2, position: at, pageSize: 1000, pages: 1)]) == .outOfOrder("a snapshot of 1000-byte pages, which SQLite does not have"))
        #expect(outcome([.begin(transaction: 1), .snapshot(term: 2, position: at, pageSize: 512, pages: 1)]) != nil, "not inside a transaction")
        var cut = SecondaryStream(position: .empty, term: 1)
        for message in whole.dropLast() { _ = try cut.receive(message) }
        cut.disconnected()
        #expect(cut.position == .empty, "a snapshot cut off is discarded")
    }

    @Test("lag: the stream learns the primary's last transaction from keep-alives and commits, and the capture time of what it applied")
    func lag() throws {
        var history = Self.history(3)
        history[1].capturedAt = 1_700_000_000_000_000
        var stream = SecondaryStream(position: .empty, term: 1)
        for message in history[0].messages + history[1].messages { _ = try stream.receive(message) }
        _ = try stream.receive(.keepAlive(transaction: 5))
        #expect(stream.primaryLast == 5 && stream.appliedCapturedAt == 1_700_000_000_000_000)
        let now = Date(timeIntervalSince1970: 1_700_000_002.5)
        let behind = ReplicationStatus.lag(primaryLast: stream.primaryLast, applied: stream.position.transaction,
                                           appliedCapturedAt: stream.appliedCapturedAt, now: now)
        #expect(behind == ReplicationStatus.Lag(transactions: 3, seconds: 2.5), "three behind; the copy shows the primary of 2.5 s ago")
        #expect(ReplicationStatus.lag(primaryLast: 2, applied: 2, appliedCapturedAt: 1, now: now) == ReplicationStatus.Lag(transactions: 0, seconds: 0))
        #expect(ReplicationStatus.lag(primaryLast: 4, applied: 2, appliedCapturedAt: 0, now: now).seconds == nil, "after a snapshot the age is unknown")
    }
}
