import Crypto

/// The checksum that ends a snapshot: SHA-256 over the primary's term and the position it
/// stands at (term and transaction number, 8 bytes big-endian each, and the running checksum),
/// the page size and the page count (4 bytes each), then every page's bytes from the first to
/// the last. The primary computes it as it
/// reads the pages; the secondary as they arrive, and keeps the snapshot only when both agree.
public struct SnapshotDigest: Sendable {
    private var hash = SHA256()

    /// A digest of the snapshot of the primary at `term` at `position`, of `pages` pages of
    /// `pageSize` bytes, before its pages.
    public init(term: UInt64, position: ReplicationPosition, pageSize: UInt32, pages: UInt32) {
        var header: [UInt8] = []
        for value in [term, position.transaction] {
            for shift in stride(from: 56, through: 0, by: -8) { header.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        header += position.checksum
        for value in [pageSize, pages] {
            for shift in stride(from: 24, through: 0, by: -8) { header.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
        }
        hash.update(data: header)
    }

    /// Adds the next page's bytes.
    public mutating func update(_ page: [UInt8]) {
        hash.update(data: page)
    }

    /// Adds the next pages' bytes.
    public mutating func update(_ pages: UnsafeRawBufferPointer) {
        hash.update(bufferPointer: pages)
    }

    /// The 32-byte digest.
    public func finalize() -> [UInt8] { Array(hash.finalize()) }
}

extension ReplicationPosition {
    /// A new start of the history after this position, as a primary makes when it cannot show
    /// what happened since (it starts, or starts again): the next transaction number with a
    /// checksum that no transaction can have (SHA-256 of this checksum, a label and `nonce`).
    /// Nobody stands there but through a snapshot, so every secondary behind it gets one.
    public func restarted(nonce: [UInt8]) -> ReplicationPosition {
        var hash = SHA256()
        hash.update(data: checksum)
        hash.update(data: Array("spool-replication-restart".utf8))
        hash.update(data: nonce)
        return ReplicationPosition(transaction: transaction + 1, checksum: Array(hash.finalize()))
    }
}
