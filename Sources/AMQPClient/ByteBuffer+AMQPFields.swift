import NIOCore

/// How deep field tables and arrays may nest before decoding refuses them, so hostile input cannot
/// exhaust the stack.
let maximumFieldNesting = 64

extension ByteBuffer {
    mutating func readOctet() throws(AMQPError) -> UInt8 {
        guard let value = readInteger(as: UInt8.self) else { throw .truncated("octet") }
        return value
    }

    mutating func readShort() throws(AMQPError) -> UInt16 {
        guard let value = readInteger(as: UInt16.self) else { throw .truncated("short") }
        return value
    }

    mutating func readLong() throws(AMQPError) -> UInt32 {
        guard let value = readInteger(as: UInt32.self) else { throw .truncated("long") }
        return value
    }

    mutating func readLongLong() throws(AMQPError) -> UInt64 {
        guard let value = readInteger(as: UInt64.self) else { throw .truncated("longlong") }
        return value
    }

    mutating func readShortString() throws(AMQPError) -> String {
        let length = Int(try readOctet())
        guard let bytes = readBytes(length: length) else { throw .truncated("short string") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw AMQPError(.frameError, "short string is not valid UTF-8")
        }
        return text
    }

    mutating func readLongStringBytes() throws(AMQPError) -> [UInt8] {
        let length = Int(try readLong())
        guard let bytes = readBytes(length: length) else { throw .truncated("long string") }
        return bytes
    }

    mutating func readLongString() throws(AMQPError) -> String {
        String(decoding: try readLongStringBytes(), as: UTF8.self)
    }

    mutating func readTable(depth: Int = 0) throws(AMQPError) -> AMQPTable {
        guard depth < maximumFieldNesting else { throw AMQPError(.frameError, "field tables nest too deeply") }
        let length = Int(try readLong())
        guard var slice = readSlice(length: length) else { throw .truncated("field table") }
        var entries: [AMQPTable.Entry] = []
        while slice.readableBytes > 0 {
            let key = try slice.readShortString()
            let value = try slice.readFieldValue(depth: depth + 1)
            entries.append(AMQPTable.Entry(key: key, value: value))
        }
        return AMQPTable(entries)
    }

    mutating func readFieldArray(depth: Int) throws(AMQPError) -> [AMQPFieldValue] {
        guard depth < maximumFieldNesting else { throw AMQPError(.frameError, "field arrays nest too deeply") }
        let length = Int(try readLong())
        guard var slice = readSlice(length: length) else { throw .truncated("field array") }
        var values: [AMQPFieldValue] = []
        while slice.readableBytes > 0 {
            values.append(try slice.readFieldValue(depth: depth + 1))
        }
        return values
    }

    mutating func readFieldValue(depth: Int) throws(AMQPError) -> AMQPFieldValue {
        let tag = try readOctet()
        switch tag {
        case UInt8(ascii: "t"): return .boolean(try readOctet() != 0)
        case UInt8(ascii: "b"): return .int8(Int8(bitPattern: try readOctet()))
        case UInt8(ascii: "B"): return .uint8(try readOctet())
        case UInt8(ascii: "s"): return .int16(Int16(bitPattern: try readShort()))
        case UInt8(ascii: "u"): return .uint16(try readShort())
        case UInt8(ascii: "I"): return .int32(Int32(bitPattern: try readLong()))
        case UInt8(ascii: "i"): return .uint32(try readLong())
        case UInt8(ascii: "l"): return .int64(Int64(bitPattern: try readLongLong()))
        case UInt8(ascii: "f"): return .float(Float(bitPattern: try readLong()))
        case UInt8(ascii: "d"): return .double(Double(bitPattern: try readLongLong()))
        case UInt8(ascii: "D"):
            let scale = try readOctet()
            return .decimal(scale: scale, value: try readLong())
        case UInt8(ascii: "S"): return .longString(try readLongStringBytes())
        case UInt8(ascii: "A"): return .array(try readFieldArray(depth: depth))
        case UInt8(ascii: "T"): return .timestamp(try readLongLong())
        case UInt8(ascii: "F"): return .table(try readTable(depth: depth))
        case UInt8(ascii: "V"): return .void
        case UInt8(ascii: "x"): return .bytes(try readLongStringBytes())
        default: throw AMQPError(.frameError, "unknown field value type \(tag)")
        }
    }

    mutating func writeShortString(_ text: String) throws(AMQPError) {
        let count = text.utf8.count
        guard count <= 255 else {
            throw AMQPError(.invalidArgument, "short string longer than 255 bytes: \(text.prefix(40))…")
        }
        writeInteger(UInt8(count))
        writeString(text)
    }

    mutating func writeLongString<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        writeInteger(UInt32(truncatingIfNeeded: bytes.count))
        writeBytes(bytes)
    }

    mutating func writeTable(_ table: AMQPTable) throws(AMQPError) {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        for entry in table {
            try writeShortString(entry.key)
            try writeFieldValue(entry.value)
        }
        setInteger(UInt32(truncatingIfNeeded: writerIndex - lengthIndex - 4), at: lengthIndex)
    }

    mutating func writeFieldValue(_ value: AMQPFieldValue) throws(AMQPError) {
        writeInteger(value.tag)
        switch value {
        case .boolean(let flag): writeInteger(UInt8(flag ? 1 : 0))
        case .int8(let number): writeInteger(number)
        case .uint8(let number): writeInteger(number)
        case .int16(let number): writeInteger(number)
        case .uint16(let number): writeInteger(number)
        case .int32(let number): writeInteger(number)
        case .uint32(let number): writeInteger(number)
        case .int64(let number): writeInteger(number)
        case .float(let number): writeInteger(number.bitPattern)
        case .double(let number): writeInteger(number.bitPattern)
        case .decimal(let scale, let number):
            writeInteger(scale)
            writeInteger(number)
        case .longString(let bytes), .bytes(let bytes): writeLongString(bytes)
        case .array(let values):
            let lengthIndex = writerIndex
            writeInteger(UInt32(0))
            for element in values { try writeFieldValue(element) }
            setInteger(UInt32(truncatingIfNeeded: writerIndex - lengthIndex - 4), at: lengthIndex)
        case .timestamp(let seconds): writeInteger(seconds)
        case .table(let table): try writeTable(table)
        case .void: break
        }
    }
}

extension AMQPError {
    static func truncated(_ what: String) -> AMQPError {
        AMQPError(.frameError, "frame ends inside a \(what)")
    }
}
