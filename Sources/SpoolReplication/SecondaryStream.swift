import SpoolCore

/// The secondary's side of the stream, without sockets: it takes the primary's messages one by
/// one and says when a transaction may be applied — only once its commit arrived and its
/// checksum, chained from the secondary's position, matches. Anything out of order, a gap, or
/// a checksum mismatch ends the stream with an error, and nothing of that transaction is
/// applied. A connection lost mid-transaction discards what arrived of it (``disconnected()``).
///
/// A snapshot (the primary's answer to a secondary behind what it retains) replaces the copy:
/// its pages are handed out one by one as they arrive, in order, to be written aside, and the
/// position moves to the snapshot's only once the last page arrived and the digest matches.
public struct SecondaryStream: Sendable {
    /// What to do after a message.
    public enum Action: Sendable, Hashable {
        /// Nothing yet.
        case none
        /// Apply this whole transaction atomically; the position moves to it.
        case apply(ReplicationTransaction)
        /// A snapshot begins: set aside a new copy of `pages` pages of `pageSize` bytes.
        case beginSnapshot(position: ReplicationPosition, pageSize: UInt32, pages: UInt32)
        /// The next page of the snapshot (numbered from 1, in order), for the copy set aside.
        case snapshotPage(number: UInt32, bytes: [UInt8])
        /// The snapshot arrived whole and verified: the copy set aside replaces the secondary's;
        /// the position and the term move to the snapshot's.
        case finishSnapshot(term: UInt64, position: ReplicationPosition)
    }

    private enum State: Sendable {
        case between
        case receiving(number: UInt64, bytes: Int)
        case snapshot(term: UInt64, position: ReplicationPosition, pageSize: UInt32, pages: UInt32, next: UInt32, digest: SnapshotDigest)
        case ended
    }

    /// The last transaction applied, and the running checksum through it.
    public private(set) var position: ReplicationPosition
    /// The term of the primary the copy came from (0 before the first snapshot).
    public private(set) var term: UInt64
    /// The primary's last transaction, as far as the stream has told (keep-alives, commits).
    public private(set) var primaryLast: UInt64 = 0
    /// When the primary captured the last transaction applied (microseconds since 1970; 0 when
    /// unknown, as after a snapshot).
    public private(set) var appliedCapturedAt: UInt64 = 0
    private var state = State.between
    /// The pages of the transaction being received, kept apart from ``state`` so that each is
    /// appended in place (a copy of the state would make every append copy them all).
    private var pages: [ReplicationTransaction.Page] = []
    /// The most page bytes one transaction may carry before the stream is refused.
    public var maximumTransactionBytes = 1 << 30
    /// The largest snapshot accepted, in bytes (SQLite's own limit is far above; this is a guard
    /// against a damaged size).
    public var maximumSnapshotBytes: UInt64 = 1 << 44

    /// A stream picking up after `position`, of a copy from a primary at `term`.
    public init(position: ReplicationPosition, term: UInt64) {
        self.position = position
        self.term = term
    }

    /// The greeting to send first.
    public var hello: ReplicationMessage { .hello(version: ReplicationMessage.version, term: term, position: position) }

    /// Takes the primary's next message.
    public mutating func receive(_ message: ReplicationMessage) throws(ReplicationStreamError) -> Action {
        switch (state, message) {
        case (.ended, _):
            throw .ended
        case (_, .keepAlive(let last)):
            primaryLast = max(primaryLast, last)
            return .none
        case (_, .refusal(let reason)):
            state = .ended
            throw .refused(reason)
        case (.between, .begin(let number)):
            guard number == position.transaction + 1 else {
                state = .ended
                throw .outOfOrder("transaction \(number) begins after \(position.transaction)")
            }
            state = .receiving(number: number, bytes: 0)
            pages = []
            return .none
        case (.receiving(let number, let bytes), .page(let page, let content)):
            guard bytes + content.count <= maximumTransactionBytes else {
                state = .ended
                pages = []
                throw .tooLarge(transaction: number)
            }
            pages.append(.init(number: page, bytes: content))
            state = .receiving(number: number, bytes: bytes + content.count)
            return .none
        case (.receiving(let number, _), .commit(let committed, let databasePages, let checksum, let capturedAt)):
            state = .ended
            defer { pages = [] }
            guard committed == number else { throw .outOfOrder("commit of \(committed) inside transaction \(number)") }
            let transaction = ReplicationTransaction(number: number, pages: pages, databasePages: databasePages, checksum: checksum,
                                                     capturedAt: capturedAt)
            guard transaction.checksum(after: position.checksum) == checksum else { throw .checksumMismatch(transaction: number) }
            state = .between
            position = ReplicationPosition(transaction: number, checksum: checksum)
            primaryLast = max(primaryLast, number)
            appliedCapturedAt = capturedAt
            return .apply(transaction)
        case (.between, .snapshot(let snapshotTerm, let at, let pageSize, let pages)):
            guard pageSize >= 512, pageSize <= 65_536, pageSize & (pageSize - 1) == 0 else {
                state = .ended
                throw .outOfOrder("a snapshot of \(pageSize)-byte pages, which SQLite does not have")
            }
            guard pages > 0, UInt64(pages) * UInt64(pageSize) <= maximumSnapshotBytes else {
                state = .ended
                throw .outOfOrder("a snapshot of \(pages) pages of \(pageSize) bytes")
            }
            state = .snapshot(term: snapshotTerm, position: at, pageSize: pageSize, pages: pages, next: 1,
                              digest: SnapshotDigest(term: snapshotTerm, position: at, pageSize: pageSize, pages: pages))
            return .beginSnapshot(position: at, pageSize: pageSize, pages: pages)
        case (.snapshot(let snapshotTerm, let at, let pageSize, let pages, let next, var digest), .page(let number, let bytes)):
            guard number == next, number <= pages, bytes.count == Int(pageSize) else {
                state = .ended
                throw .outOfOrder("snapshot page \(number) of \(bytes.count) bytes where page \(next) of \(pageSize) was due")
            }
            digest.update(bytes)
            state = .snapshot(term: snapshotTerm, position: at, pageSize: pageSize, pages: pages, next: next + 1, digest: digest)
            return .snapshotPage(number: number, bytes: bytes)
        case (.snapshot(let snapshotTerm, let at, _, let pages, let next, let digest), .snapshotEnd(let sent)):
            state = .ended
            guard next == pages + 1 else { throw .outOfOrder("the snapshot ended after \(next - 1) of its \(pages) pages") }
            guard digest.finalize() == sent else { throw .snapshotMismatch(transaction: at.transaction) }
            state = .between
            position = at
            term = snapshotTerm
            primaryLast = max(primaryLast, at.transaction)
            appliedCapturedAt = 0
            return .finishSnapshot(term: snapshotTerm, position: at)
        default:
            state = .ended
            throw .outOfOrder("\(Self.name(message)) was not expected here")
        }
    }

    /// The connection was lost: what arrived of an unfinished transaction is discarded, and the
    /// stream may start again from the position with a new greeting.
    public mutating func disconnected() {
        state = .between
        pages = []
    }

    private static func name(_ message: ReplicationMessage) -> String {
        switch message {
        case .hello: "a greeting"
        case .begin(let number): "begin of \(number)"
        case .page(let number, _): "page \(number)"
        case .commit(let number, _, _, _): "commit of \(number)"
        case .keepAlive: "a keep-alive"
        case .applied: "a secondary's report"
        case .refusal: "a refusal"
        case .snapshot(_, let at, _, _): "a snapshot at \(at.transaction)"
        case .snapshotEnd: "a snapshot's end"
        }
    }
}

/// Why a secondary ends its stream; it reconnects and resumes from its position.
public enum ReplicationStreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The primary said why it closes.
    case refused(String)
    /// A message out of order: a gap, a second begin, a page outside a transaction.
    case outOfOrder(String)
    /// A transaction whose checksum does not follow from the secondary's history.
    case checksumMismatch(transaction: UInt64)
    /// A transaction larger than the secondary accepts.
    case tooLarge(transaction: UInt64)
    /// A snapshot whose pages do not give its digest.
    case snapshotMismatch(transaction: UInt64)
    /// The stream already ended.
    case ended

    public var description: String {
        switch self {
        case .refused(let reason): "the primary refused: \(reason)"
        case .outOfOrder(let what): "out of order: \(what)"
        case .checksumMismatch(let number): "the checksum of transaction \(number) does not match this secondary's history"
        case .tooLarge(let number): "transaction \(number) is larger than this secondary accepts"
        case .snapshotMismatch(let number): "the snapshot at transaction \(number) does not match its digest"
        case .ended: "the stream ended"
        }
    }
}
