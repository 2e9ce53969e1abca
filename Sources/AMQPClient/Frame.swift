import NIOCore

/// One AMQP 0-9-1 frame (§4.2.3): type octet, channel, payload size, payload, frame-end octet.
enum Frame: Hashable, Sendable {
    case method(channel: UInt16, Method)
    case header(channel: UInt16, ContentHeader)
    case body(channel: UInt16, ByteBuffer)
    case heartbeat

    /// The 8 octets a frame adds around its payload.
    static let overhead = 8
    /// The smallest frame-max a peer may impose (FRAME-MIN-SIZE).
    static let minimumSize: UInt32 = 4096
    static let end: UInt8 = 0xCE
    /// The protocol header a client sends before anything else.
    static let protocolHeader: [UInt8] = Array("AMQP".utf8) + [0, 0, 9, 1]

    private enum Kind {
        static let method: UInt8 = 1
        static let header: UInt8 = 2
        static let body: UInt8 = 3
        static let heartbeat: UInt8 = 8
    }

    /// The content header frame's payload: the class, the total body size, the properties.
    struct ContentHeader: Hashable, Sendable {
        var classID: UInt16 = 60
        var bodySize: UInt64
        var properties: AMQPBasicProperties
    }

    /// Decodes one frame from the front of `buffer`.
    ///
    /// Returns `nil`, consuming nothing, while the frame is incomplete. Throws
    /// ``AMQPError/Code-swift.struct/frameError`` for a malformed frame or one larger than
    /// `maximumSize` (checked from the header, before waiting for the payload).
    static func decode(from buffer: inout ByteBuffer, maximumSize: UInt32) throws(AMQPError) -> Frame? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let channel = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt16.self),
              let size = buffer.getInteger(at: buffer.readerIndex + 3, as: UInt32.self)
        else { return nil }
        guard UInt64(size) + UInt64(overhead) <= UInt64(maximumSize) else {
            throw AMQPError(.frameError, "frame of \(size) bytes exceeds frame-max \(maximumSize)")
        }
        let total = Int(size) + overhead
        guard buffer.readableBytes >= total else { return nil }
        guard buffer.getInteger(at: buffer.readerIndex + total - 1, as: UInt8.self) == end else {
            throw AMQPError(.frameError, "frame does not end with the frame-end octet")
        }
        buffer.moveReaderIndex(forwardBy: 7)
        guard var payload = buffer.readSlice(length: Int(size)) else { return nil }
        buffer.moveReaderIndex(forwardBy: 1)
        switch type {
        case Kind.method:
            return .method(channel: channel, try Method.decode(payload))
        case Kind.header:
            let classID = try payload.readShort()
            guard classID == 60 else { throw AMQPError(.frameError, "content header for class \(classID)") }
            _ = try payload.readShort()
            let bodySize = try payload.readLongLong()
            let properties = try AMQPBasicProperties.decode(from: &payload)
            return .header(channel: channel, ContentHeader(classID: classID, bodySize: bodySize, properties: properties))
        case Kind.body:
            return .body(channel: channel, payload)
        case Kind.heartbeat:
            guard channel == 0 else { throw AMQPError(.frameError, "heartbeat on channel \(channel)") }
            return .heartbeat
        default:
            throw AMQPError(.frameError, "unknown frame type \(type)")
        }
    }

    /// The frame's kind, for messages.
    var kindName: String {
        switch self {
        case .method: "method"
        case .header: "content header"
        case .body: "body"
        case .heartbeat: "heartbeat"
        }
    }

    /// Appends the whole frame to `buffer`.
    func encode(into buffer: inout ByteBuffer) throws(AMQPError) {
        let start = buffer.writerIndex
        switch self {
        case .method(let channel, let method):
            writeHeader(Kind.method, channel, &buffer)
            try method.encode(into: &buffer)
        case .header(let channel, let header):
            writeHeader(Kind.header, channel, &buffer)
            buffer.writeInteger(header.classID)
            buffer.writeInteger(UInt16(0))
            buffer.writeInteger(header.bodySize)
            try header.properties.encode(into: &buffer)
        case .body(let channel, var body):
            writeHeader(Kind.body, channel, &buffer)
            buffer.writeBuffer(&body)
        case .heartbeat:
            writeHeader(Kind.heartbeat, 0, &buffer)
        }
        buffer.setInteger(UInt32(truncatingIfNeeded: buffer.writerIndex - start - 7), at: start + 3)
        buffer.writeInteger(Frame.end)
    }

    private func writeHeader(_ kind: UInt8, _ channel: UInt16, _ buffer: inout ByteBuffer) {
        buffer.writeInteger(kind)
        buffer.writeInteger(channel)
        buffer.writeInteger(UInt32(0))
    }
}
