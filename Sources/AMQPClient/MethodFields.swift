import NIOCore

/// Reads method arguments in order, packing consecutive `bit` arguments into octets as AMQP
/// 0-9-1 §4.2.5.2 requires (first bit in the lowest-order position).
struct MethodFieldReader {
    var buffer: ByteBuffer
    private var bits: UInt8 = 0
    private var nextBit = 8

    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    mutating func bit() throws(AMQPError) -> Bool {
        if nextBit == 8 {
            bits = try buffer.readOctet()
            nextBit = 0
        }
        defer { nextBit += 1 }
        return bits & (1 << nextBit) != 0
    }

    mutating func octet() throws(AMQPError) -> UInt8 {
        nextBit = 8
        return try buffer.readOctet()
    }

    mutating func short() throws(AMQPError) -> UInt16 {
        nextBit = 8
        return try buffer.readShort()
    }

    mutating func long() throws(AMQPError) -> UInt32 {
        nextBit = 8
        return try buffer.readLong()
    }

    mutating func longLong() throws(AMQPError) -> UInt64 {
        nextBit = 8
        return try buffer.readLongLong()
    }

    mutating func shortString() throws(AMQPError) -> String {
        nextBit = 8
        return try buffer.readShortString()
    }

    mutating func longString() throws(AMQPError) -> [UInt8] {
        nextBit = 8
        return try buffer.readLongStringBytes()
    }

    mutating func table() throws(AMQPError) -> AMQPTable {
        nextBit = 8
        return try buffer.readTable()
    }
}

/// Writes method arguments in order, packing consecutive `bit` arguments into octets.
struct MethodFieldWriter {
    var buffer: ByteBuffer
    private var bitIndex: Int?
    private var nextBit = 8

    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    mutating func bit(_ value: Bool) {
        if nextBit == 8 {
            bitIndex = buffer.writerIndex
            buffer.writeInteger(UInt8(0))
            nextBit = 0
        }
        if value, let bitIndex, let octet = buffer.getInteger(at: bitIndex, as: UInt8.self) {
            buffer.setInteger(octet | (1 << nextBit), at: bitIndex)
        }
        nextBit += 1
    }

    mutating func octet(_ value: UInt8) {
        nextBit = 8
        buffer.writeInteger(value)
    }

    mutating func short(_ value: UInt16) {
        nextBit = 8
        buffer.writeInteger(value)
    }

    mutating func long(_ value: UInt32) {
        nextBit = 8
        buffer.writeInteger(value)
    }

    mutating func longLong(_ value: UInt64) {
        nextBit = 8
        buffer.writeInteger(value)
    }

    mutating func shortString(_ value: String) throws(AMQPError) {
        nextBit = 8
        try buffer.writeShortString(value)
    }

    mutating func longString(_ value: [UInt8]) {
        nextBit = 8
        buffer.writeLongString(value)
    }

    mutating func table(_ value: AMQPTable) throws(AMQPError) {
        nextBit = 8
        try buffer.writeTable(value)
    }
}
