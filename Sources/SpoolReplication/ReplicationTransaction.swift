import Crypto
import SpoolCore

/// One committed transaction of the primary's store as it travels: its number, the pages it
/// wrote, the database's size in pages after it, and the running checksum through it.
public struct ReplicationTransaction: Sendable, Hashable {
    /// One page the transaction wrote.
    public struct Page: Sendable, Hashable {
        /// The page's number (1 is the first page of the file).
        public var number: UInt32
        /// The page's bytes.
        public var bytes: [UInt8]

        /// A page.
        public init(number: UInt32, bytes: [UInt8]) {
            self.number = number
            self.bytes = bytes
        }
    }

    /// The transaction's number: one more than the one before it.
    public var number: UInt64
    /// The pages it wrote, in order.
    public var pages: [Page]
    /// The database's size in pages after it.
    public var databasePages: UInt32
    /// The running SHA-256 through it (``checksum(after:)``).
    public var checksum: [UInt8]
    /// When the primary captured it, in microseconds since 1970 (0 when unknown); not part of
    /// the checksum.
    public var capturedAt: UInt64

    /// A transaction.
    public init(number: UInt64, pages: [Page], databasePages: UInt32, checksum: [UInt8], capturedAt: UInt64 = 0) {
        self.number = number
        self.pages = pages
        self.databasePages = databasePages
        self.checksum = checksum
        self.capturedAt = capturedAt
    }

    /// The running checksum through this transaction, following `previous` (the checksum of the
    /// position before it): SHA-256 of `previous`, the number (8 bytes, big-endian), each page's
    /// number (4 bytes) and bytes, and the database size (4 bytes). Equal checksums mean equal
    /// histories, so a secondary's position can be checked against the primary's log.
    public func checksum(after previous: [UInt8]) -> [UInt8] {
        var hash = SHA256()
        hash.update(data: previous)
        hash.update(data: Self.bigEndian(number, 8))
        for page in pages {
            hash.update(data: Self.bigEndian(UInt64(page.number), 4))
            hash.update(data: page.bytes)
        }
        hash.update(data: Self.bigEndian(UInt64(databasePages), 4))
        return Array(hash.finalize())
    }

    /// The messages that carry the transaction: begin, its pages, commit.
    public var messages: [ReplicationMessage] {
        [.begin(transaction: number)] + pages.map { .page(number: $0.number, bytes: $0.bytes) }
            + [.commit(transaction: number, pages: databasePages, checksum: checksum, capturedAt: capturedAt)]
    }

    /// The frames of every message of `transactions`, in order, in one array.
    public static func frames(_ transactions: some Collection<ReplicationTransaction>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(transactions.reduce(0) { $0 + 80 + $1.pages.reduce(0) { $0 + 9 + $1.bytes.count } })
        for transaction in transactions {
            ReplicationMessage.begin(transaction: transaction.number).append(to: &out)
            for page in transaction.pages { ReplicationMessage.page(number: page.number, bytes: page.bytes).append(to: &out) }
            ReplicationMessage.commit(transaction: transaction.number, pages: transaction.databasePages, checksum: transaction.checksum,
                                      capturedAt: transaction.capturedAt).append(to: &out)
        }
        return out
    }

    private static func bigEndian(_ value: UInt64, _ bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> UInt64((bytes - 1 - $0) * 8)) }
    }
}
