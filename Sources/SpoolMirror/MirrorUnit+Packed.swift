import Foundation
import SpoolCore

/// The compact binary form of a unit, as an outbox keeps it between the application's commit and
/// the relay: a few hundred bytes for ten small operations where the JSON body and its ordering
/// keys take over a kilobyte, and cheaper to write, so that the application's commit carries as
/// little of mirroring as it can. The relay turns it into the unit's message (JSON), so the
/// transport's format does not change.
///
/// Layout (integers as unsigned LEB128 varints unless said otherwise):
///
/// - `1` (the format), the id's 16 bytes, the commit time as a little-endian IEEE double of
///   seconds since 2001-01-01 (Foundation's reference date, so a `Date` comes back exactly; NaN
///   when unknown), the number of operations;
/// - per operation: its kind (`0` add, `1` modify, `2` delete), its type as a name, its key as
///   text, and unless a delete the number of fields and per field its name and a value: a tag
///   (`0` null, `1` string, `2` integer (zigzag), `3` double, `4` false, `5` true, `6` date as a
///   double like the commit time, `7` JSON as text, `8` file bytes) and the value.
///
/// Text is its UTF-8 length and bytes. A name is `0` followed by text the first time a unit
/// uses it, and afterwards its number in order of first use, so type and field names repeated
/// by every operation cost one byte each.
///
/// Format `0` carries a message as written before the packed form existed (id, ordering keys
/// and JSON body), for outbox rows migrated from that layout.
extension MirrorUnit {
    /// The unit's packed form.
    public var packed: [UInt8] {
        var writer = PackedWriter(capacity: 40 + operations.count * 40)
        writer.bytes.append(1)
        withUnsafeBytes(of: id.uuid) { writer.bytes.append(contentsOf: $0) }
        writer.double(committedAt?.timeIntervalSinceReferenceDate ?? .nan)
        writer.varint(UInt64(operations.count))
        for operation in operations {
            writer.bytes.append(operation.kind.code)
            writer.name(operation.type)
            writer.text(operation.key)
            guard operation.kind != .delete else { continue }
            writer.varint(UInt64(operation.fields.count))
            for (name, value) in operation.fields {
                writer.name(name)
                writer.value(value)
            }
        }
        return writer.bytes
    }

    /// A message written before the packed form existed, in format `0`.
    public static func packedMessage(id: String, orderKeys: String?, body: String) -> [UInt8] {
        var writer = PackedWriter(capacity: 16 + id.utf8.count + (orderKeys?.utf8.count ?? 0) + body.utf8.count)
        writer.bytes.append(0)
        writer.text(id)
        writer.text(orderKeys ?? "")
        writer.text(body)
        return writer.bytes
    }

    /// The message a packed unit (or a format `0` message) travels as: its id, JSON body and
    /// ordering keys; throws ``SpoolError/Code/invalidArgument`` when the bytes are not a packed
    /// unit.
    public static func message(packed bytes: [UInt8]) throws -> TransportMessage {
        var reader = PackedReader(bytes)
        switch try reader.byte() {
        case 0:
            let id = try reader.text(), keys = try reader.text(), body = try reader.text()
            var headers = ["content-type": "application/json"]
            if !keys.isEmpty { headers[orderKeysHeader] = keys }
            try reader.end()
            return TransportMessage(id: id, headers: headers, text: body)
        case 1:
            return try MirrorUnit(reading: &reader).message
        case let format:
            throw SpoolError(.invalidArgument, "packed mirror unit: unknown format \(format)")
        }
    }

    /// The message an outbox relays for its row number `row` holding `bytes`: the unit's message,
    /// or, when the bytes are not a packed unit (a damaged database), a message of the bytes
    /// themselves (id `outbox-row-ROW`), which the processor dead-letters with the reason, so a
    /// damaged row neither stops the relay nor disappears.
    public static func outboxMessage(_ bytes: [UInt8], row: Int64) -> TransportMessage {
        (try? message(packed: bytes)) ?? TransportMessage(id: "outbox-row-\(row)", headers: ["content-type": "application/octet-stream"], body: bytes)
    }

    /// Reads a packed unit (format `1`); throws naming what is wrong with the bytes.
    public init(packed bytes: [UInt8]) throws {
        var reader = PackedReader(bytes)
        guard try reader.byte() == 1 else { throw SpoolError(.invalidArgument, "packed mirror unit: not format 1") }
        try self.init(reading: &reader)
    }

    private init(reading reader: inout PackedReader) throws {
        let id = try reader.take(16).withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
        let seconds = try reader.double()
        let count = try reader.count()
        var operations: [MirrorOperation] = []
        operations.reserveCapacity(count)
        for _ in 0..<count {
            let code = try reader.byte()
            guard let kind = MirrorOperation.Kind(code: code) else { throw SpoolError(.invalidArgument, "packed mirror unit: unknown operation kind \(code)") }
            let type = try reader.name(), key = try reader.text()
            var fields: [String: MirrorValue] = [:]
            if kind != .delete {
                let fieldCount = try reader.count()
                fields.reserveCapacity(fieldCount)
                for _ in 0..<fieldCount {
                    let name = try reader.name()
                    fields[name] = try reader.value()
                }
            }
            operations.append(MirrorOperation(kind: kind, type: type, key: key, fields: fields))
        }
        try reader.end()
        self.init(id: id, operations: operations, committedAt: seconds.isNaN ? nil : Date(timeIntervalSinceReferenceDate: seconds))
    }
}

extension MirrorOperation.Kind {
    fileprivate var code: UInt8 {
        switch self {
        case .add: 0
        case .modify: 1
        case .delete: 2
        }
    }

    fileprivate init?(code: UInt8) {
        switch code {
        case 0: self = .add
        case 1: self = .modify
        case 2: self = .delete
        default: return nil
        }
    }
}

/// Writes the packed form.
private struct PackedWriter {
    var bytes: [UInt8]
    /// Names written so far, in order: a name's number is its place plus one.
    private var names: [String] = []

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func double(_ value: Double) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func text(_ value: String) {
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    mutating func name(_ value: String) {
        if let index = names.firstIndex(of: value) {
            varint(UInt64(index + 1))
        } else {
            bytes.append(0)
            text(value)
            names.append(value)
        }
    }

    mutating func value(_ value: MirrorValue) {
        switch value {
        case .null: bytes.append(0)
        case .string(let text): bytes.append(1); self.text(text)
        case .integer(let number): bytes.append(2); varint(UInt64(bitPattern: (number << 1) ^ (number >> 63)))
        case .double(let number): bytes.append(3); double(number)
        case .bool(let flag): bytes.append(flag ? 5 : 4)
        case .date(let date): bytes.append(6); double(date.timeIntervalSinceReferenceDate)
        case .json(let json):
            var writer = JSONWriter(capacity: 64)
            json.write(to: &writer)
            bytes.append(7)
            varint(UInt64(writer.bytes.count))
            bytes.append(contentsOf: writer.bytes)
        case .file(let content): bytes.append(8); varint(UInt64(content.count)); bytes.append(contentsOf: content)
        }
    }
}

/// Reads the packed form, checking every length against what is left.
private struct PackedReader {
    private let bytes: [UInt8]
    private var offset = 0
    private var names: [String] = []

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private func damaged(_ what: String) -> SpoolError {
        SpoolError(.invalidArgument, "packed mirror unit: \(what) at byte \(offset) of \(bytes.count)")
    }

    mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw damaged("cut short") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - offset else { throw damaged("a length of \(count) past the end") }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            let byte = try byte()
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte < 0x80 { return value }
        }
        throw damaged("a varint longer than 64 bits")
    }

    /// A count or length, at most the bytes left (each element takes at least one byte).
    mutating func count() throws -> Int {
        let value = try varint()
        guard value <= UInt64(bytes.count - offset) else { throw damaged("a count of \(value) past the end") }
        return Int(value)
    }

    mutating func double() throws -> Double {
        let slice = try take(8)
        var bits: UInt64 = 0
        for (shift, byte) in slice.enumerated() { bits |= UInt64(byte) << UInt64(shift * 8) }
        return Double(bitPattern: bits)
    }

    mutating func text() throws -> String {
        let slice = try take(try count())
        guard let text = String(validating: slice, as: UTF8.self) else { throw damaged("text that is not UTF-8") }
        return text
    }

    mutating func name() throws -> String {
        let number = try varint()
        if number == 0 {
            let name = try text()
            names.append(name)
            return name
        }
        guard number <= UInt64(names.count) else { throw damaged("name number \(number) of \(names.count)") }
        return names[Int(number) - 1]
    }

    mutating func value() throws -> MirrorValue {
        switch try byte() {
        case 0: return .null
        case 1: return .string(try text())
        case 2:
            let bits = try varint()
            return .integer(Int64(bitPattern: bits >> 1) ^ -Int64(bitPattern: bits & 1))
        case 3: return .double(try double())
        case 4: return .bool(false)
        case 5: return .bool(true)
        case 6: return .date(Date(timeIntervalSinceReferenceDate: try double()))
        case 7:
            let text = try text()
            do {
                return .json(try JSONValue.parse(text))
            } catch {
                throw damaged("a JSON value that does not parse")
            }
        case 8: return .file(Array(try take(try count())))
        case let tag: throw damaged("unknown value tag \(tag)")
        }
    }

    func end() throws {
        guard offset == bytes.count else { throw damaged("\(bytes.count - offset) bytes past the unit's end") }
    }
}
