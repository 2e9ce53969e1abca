import SpoolCore

/// What primary and secondary say to each other (DESIGN §8), and its wire form.
///
/// Every message is a frame: a 4-byte big-endian length of what follows, a 1-byte type, then the
/// type's fields (big-endian integers; text as a 2-byte length and UTF-8):
///
/// | type | message | fields |
/// | ---: | --- | --- |
/// | 1 | ``hello(version:term:position:)`` | `"spool-replication"` (text), version (2 bytes), term (8), position |
/// | 2 | ``begin(transaction:)`` | transaction (8 bytes) |
/// | 3 | ``page(number:bytes:)`` | page number (4 bytes), the page's bytes (the rest) |
/// | 4 | ``commit(transaction:pages:checksum:capturedAt:)`` | transaction (8), database size in pages (4), checksum (32), capture time (8) |
/// | 5 | ``keepAlive(transaction:)`` | the primary's last transaction (8) |
/// | 6 | ``refusal(_:)`` | reason (text) |
/// | 7 | ``snapshot(term:position:pageSize:pages:)`` | term (8), position, page size (4), page count (4) |
/// | 8 | ``snapshotEnd(digest:)`` | ``SnapshotDigest`` (32) |
/// | 9 | ``applied(transaction:)`` | the secondary's last applied transaction (8) |
///
/// A position is a transaction number (8 bytes; 0 for an empty store) and the running SHA-256
/// of every transaction up to it (32 bytes; zeros for an empty store). A term counts the
/// promotions behind a primary (1 for a store that was never a secondary; a promotion adds one;
/// 0 for a secondary that has not yet followed any primary).
public enum ReplicationMessage: Sendable, Hashable {
    /// The secondary's greeting: the protocol's version, the term of the primary it followed
    /// last, and the last transaction it applied.
    case hello(version: UInt16, term: UInt64, position: ReplicationPosition)
    /// A transaction starts.
    case begin(transaction: UInt64)
    /// One page the transaction writes.
    case page(number: UInt32, bytes: [UInt8])
    /// The transaction ends: the database's size after it, the running checksum through it, and
    /// when the primary captured it (microseconds since 1970; 0 when unknown).
    case commit(transaction: UInt64, pages: UInt32, checksum: [UInt8], capturedAt: UInt64)
    /// Alive, with the primary's last transaction (sent when idle and after transactions), so
    /// a secondary knows how far behind it is.
    case keepAlive(transaction: UInt64)
    /// Why the sender closes the connection.
    case refusal(String)
    /// The store of the primary at `term` as it stands at `position` follows, replacing the
    /// secondary's copy: `pages` pages of `pageSize` bytes as ``page(number:bytes:)`` messages,
    /// first to last, then ``snapshotEnd(digest:)``.
    case snapshot(term: UInt64, position: ReplicationPosition, pageSize: UInt32, pages: UInt32)
    /// The snapshot's last page was sent; its ``SnapshotDigest``.
    case snapshotEnd(digest: [UInt8])
    /// The secondary's report, after each write of its copy: the last transaction it applied.
    case applied(transaction: UInt64)

    /// The protocol identifier of ``hello(version:term:position:)``.
    public static let identifier = "spool-replication"
    /// The protocol version this code speaks.
    public static let version: UInt16 = 1
    /// The longest frame accepted: a page of 64 KiB and its header, with room to spare.
    public static let maximumFrame = 1 << 17

    /// The message's frame.
    public var frame: [UInt8] {
        var frame: [UInt8] = []
        append(to: &frame)
        return frame
    }

    /// Appends the message's frame to `out` (a page's bytes are copied once).
    public func append(to out: inout [UInt8]) {
        let start = out.count
        out += [0, 0, 0, 0]
        switch self {
        case let .hello(version, term, position):
            out.append(1)
            Self.appendText(Self.identifier, to: &out)
            Self.append(UInt64(version), bytes: 2, to: &out)
            Self.append(term, bytes: 8, to: &out)
            Self.append(position.transaction, bytes: 8, to: &out)
            out += position.checksum
        case .begin(let transaction):
            out.append(2)
            Self.append(transaction, bytes: 8, to: &out)
        case let .page(number, bytes):
            out.append(3)
            Self.append(UInt64(number), bytes: 4, to: &out)
            out += bytes
        case let .commit(transaction, pages, checksum, capturedAt):
            out.append(4)
            Self.append(transaction, bytes: 8, to: &out)
            Self.append(UInt64(pages), bytes: 4, to: &out)
            out += checksum
            Self.append(capturedAt, bytes: 8, to: &out)
        case .keepAlive(let transaction):
            out.append(5)
            Self.append(transaction, bytes: 8, to: &out)
        case .refusal(let reason):
            out.append(6)
            Self.appendText(reason, to: &out)
        case let .snapshot(term, position, pageSize, pages):
            out.append(7)
            Self.append(term, bytes: 8, to: &out)
            Self.append(position.transaction, bytes: 8, to: &out)
            out += position.checksum
            Self.append(UInt64(pageSize), bytes: 4, to: &out)
            Self.append(UInt64(pages), bytes: 4, to: &out)
        case .snapshotEnd(let digest):
            out.append(8)
            out += digest
        case .applied(let transaction):
            out.append(9)
            Self.append(transaction, bytes: 8, to: &out)
        }
        let length = out.count - start - 4
        for index in 0..<4 { out[start + index] = UInt8(truncatingIfNeeded: length >> ((3 - index) * 8)) }
    }

    /// What a ``page(number:bytes:)`` frame of `size` page bytes starts with (length, type and
    /// page number, 9 bytes), for a sender that writes the page's bytes from its own buffer.
    public static func pageFrameHeader(number: UInt32, size: Int) -> [UInt8] {
        var header: [UInt8] = []
        append(UInt64(size + 5), bytes: 4, to: &header)
        header.append(3)
        append(UInt64(number), bytes: 4, to: &header)
        return header
    }

    private static func append(_ value: UInt64, bytes: Int, to out: inout [UInt8]) {
        for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    private static func appendText(_ text: String, to out: inout [UInt8]) {
        let utf8 = Array(text.utf8.prefix(65_535))
        append(UInt64(utf8.count), bytes: 2, to: &out)
        out += utf8
    }
}

/// Where a secondary stands: the last transaction applied, and the running checksum through it.
public struct ReplicationPosition: Sendable, Hashable {
    /// The transaction number; 0 for an empty store.
    public var transaction: UInt64
    /// The running SHA-256 through it, 32 bytes; zeros for an empty store.
    public var checksum: [UInt8]

    /// The position of an empty store.
    public static let empty = ReplicationPosition(transaction: 0, checksum: Array(repeating: 0, count: 32))

    /// A position.
    public init(transaction: UInt64, checksum: [UInt8]) {
        self.transaction = transaction
        self.checksum = checksum
    }
}
