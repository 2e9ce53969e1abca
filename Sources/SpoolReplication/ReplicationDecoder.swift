import SpoolCore

/// Reads ``ReplicationMessage`` frames from bytes as they arrive, in any pieces. Whatever the
/// peer sends, it returns messages or throws ``ReplicationWireError`` naming what is wrong; a
/// frame's declared length is checked against ``ReplicationMessage/maximumFrame`` before its
/// bytes are waited for, so a reader that calls ``next()`` after each ``feed(_:)`` holds at most
/// one frame.
public struct ReplicationDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    /// An empty decoder.
    public init() {}

    /// Adds bytes received.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        // In one copy when the bytes are contiguous (a received `ByteBuffer`'s are).
        if bytes.withContiguousStorageIfAvailable({ buffer.append(contentsOf: $0) }) == nil {
            buffer.append(contentsOf: bytes)
        }
    }

    /// The next whole message, or `nil` until more bytes arrive.
    public mutating func next() throws(ReplicationWireError) -> ReplicationMessage? {
        guard buffer.count - start >= 4 else { return nil }
        let length = buffer[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
        guard length >= 1 else { throw .emptyFrame }
        guard length <= ReplicationMessage.maximumFrame else { throw .frameTooLarge(length) }
        guard buffer.count - start - 4 >= length else { return nil }
        let body = buffer[(start + 4)..<(start + 4 + length)]
        start += 4 + length
        return try Self.message(body)
    }

    /// The message in a frame's `body` (read in place: only the fields it returns are copied).
    static func message(_ body: ArraySlice<UInt8>) throws(ReplicationWireError) -> ReplicationMessage {
        let type = body[body.startIndex]
        var reader = Reader(bytes: body, index: body.startIndex + 1)
        let message: ReplicationMessage
        switch type {
        case 1:
            let identifier = try reader.text("identifier")
            guard identifier == ReplicationMessage.identifier else { throw .notReplication(String(identifier.prefix(64))) }
            let version = UInt16(try reader.integer(2, "version"))
            let term = try reader.integer(8, "term")
            let transaction = try reader.integer(8, "position")
            message = .hello(version: version, term: term,
                             position: ReplicationPosition(transaction: transaction, checksum: try reader.bytes(32, "checksum")))
        case 2: message = .begin(transaction: try reader.integer(8, "transaction"))
        case 3:
            let number = UInt32(try reader.integer(4, "page number"))
            message = .page(number: number, bytes: reader.rest())
        case 4:
            let transaction = try reader.integer(8, "transaction")
            let pages = UInt32(try reader.integer(4, "database size"))
            let checksum = try reader.bytes(32, "checksum")
            message = .commit(transaction: transaction, pages: pages, checksum: checksum, capturedAt: try reader.integer(8, "capture time"))
        case 5: message = .keepAlive(transaction: try reader.integer(8, "transaction"))
        case 6: message = .refusal(try reader.text("reason"))
        case 7:
            let term = try reader.integer(8, "term")
            let transaction = try reader.integer(8, "position")
            let position = ReplicationPosition(transaction: transaction, checksum: try reader.bytes(32, "checksum"))
            let pageSize = UInt32(try reader.integer(4, "page size"))
            message = .snapshot(term: term, position: position, pageSize: pageSize, pages: UInt32(try reader.integer(4, "page count")))
        case 8: message = .snapshotEnd(digest: try reader.bytes(32, "digest"))
        case 9: message = .applied(transaction: try reader.integer(8, "transaction"))
        default: throw .unknownType(type)
        }
        guard reader.index == body.endIndex else { throw .trailingBytes(type: type, count: body.endIndex - reader.index) }
        return message
    }

    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var index: Int

        mutating func bytes(_ count: Int, _ field: String) throws(ReplicationWireError) -> [UInt8] {
            Array(try slice(count, field))
        }

        mutating func integer(_ count: Int, _ field: String) throws(ReplicationWireError) -> UInt64 {
            try slice(count, field).reduce(0) { $0 << 8 | UInt64($1) }
        }

        private mutating func slice(_ count: Int, _ field: String) throws(ReplicationWireError) -> ArraySlice<UInt8> {
            guard bytes.endIndex - index >= count else { throw .truncated(field) }
            defer { index += count }
            return bytes[index..<index + count]
        }

        mutating func text(_ field: String) throws(ReplicationWireError) -> String {
            let length = Int(try integer(2, field))
            return String(decoding: try bytes(length, field), as: UTF8.self)
        }

        mutating func rest() -> [UInt8] {
            defer { index = bytes.endIndex }
            return Array(bytes[index...])
        }
    }
}

/// What is wrong with bytes a replication peer sent; the connection cannot go on.
public enum ReplicationWireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A frame of length 0.
    case emptyFrame
    /// A frame longer than ``ReplicationMessage/maximumFrame``.
    case frameTooLarge(Int)
    /// A message type this version does not know.
    case unknownType(UInt8)
    /// A field cut short by the end of its frame.
    case truncated(String)
    /// Bytes left in a frame after its message.
    case trailingBytes(type: UInt8, count: Int)
    /// A greeting of another protocol.
    case notReplication(String)

    public var description: String {
        switch self {
        case .emptyFrame: "an empty frame"
        case .frameTooLarge(let length): "a frame of \(length) bytes; the limit is \(ReplicationMessage.maximumFrame)"
        case .unknownType(let type): "message type \(type) is unknown"
        case .truncated(let field): "the frame ends inside its \(field)"
        case let .trailingBytes(type, count): "\(count) bytes after a message of type \(type)"
        case .notReplication(let identifier): "the peer speaks '\(identifier)', not \(ReplicationMessage.identifier)"
        }
    }
}
