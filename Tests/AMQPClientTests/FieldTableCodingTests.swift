@testable import AMQPClient
import NIOCore
import Testing

@Suite struct FieldTableCodingTests {
    private func roundTrip(_ table: AMQPTable) throws -> AMQPTable {
        var buffer = ByteBuffer()
        try buffer.writeTable(table)
        let decoded = try buffer.readTable()
        #expect(buffer.readableBytes == 0)
        return decoded
    }

    @Test func everyFieldTypeRoundTripsInOrder() throws {
        let decoded = try roundTrip(CodecFixtures.everyFieldType)
        #expect(decoded == CodecFixtures.everyFieldType)
        #expect(decoded.map(\.key) == CodecFixtures.everyFieldType.map(\.key))
    }

    @Test(arguments: CodecFixtures.everyFieldType.map(\.value))
    func eachValueRoundTripsAlone(_ value: AMQPFieldValue) throws {
        #expect(try roundTrip(["v": value])["v"] == value)
    }

    @Test func tagsAreRabbitMQs() {
        let tags = String(decoding: CodecFixtures.everyFieldType.map(\.value.tag), as: UTF8.self)
        #expect(tags == "tbBsuIilfdDSATFVx")
    }

    @Test func encodesBigEndianWithLengthPrefix() throws {
        var buffer = ByteBuffer()
        try buffer.writeTable(["a": .int32(-2), "b": .longString([0x41])])
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 15, 1, 0x61, 0x49, 0xFF, 0xFF, 0xFF, 0xFE,
                                                     1, 0x62, 0x53, 0, 0, 0, 1, 0x41])
    }

    @Test func tableLongerThanTheBufferIsAnError() {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 100, 1, 0x61, 0x56])
        #expect(throws: AMQPError.self) { try buffer.readTable() }
    }

    @Test func hugeLongStringLengthIsAnErrorNotAnAllocation() {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 7, 1, 0x61, 0x53, 0xFF, 0xFF, 0xFF, 0xFF])
        let error = #expect(throws: AMQPError.self) { try buffer.readTable() }
        #expect(error?.code == .frameError)
    }

    @Test func unknownValueTagIsAnError() {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 3, 1, 0x61, 0x5A])
        #expect(throws: AMQPError.self) { try buffer.readTable() }
    }

    @Test func truncatedValueIsAnError() {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 5, 1, 0x61, 0x6C, 0, 0])
        #expect(throws: AMQPError.self) { try buffer.readTable() }
    }

    @Test func invalidUTF8KeyIsAnError() {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 4, 2, 0xC3, 0x28, 0x56])
        #expect(throws: AMQPError.self) { try buffer.readTable() }
    }

    @Test func deepNestingIsRefusedBeforeTheStackRunsOut() {
        var nested: [UInt8] = []
        for _ in 0..<1_000 { nested = [0x41] + bigEndian(UInt32(nested.count)) + nested }
        let entry: [UInt8] = [1, 0x61] + nested
        var buffer = ByteBuffer(bytes: bigEndian(UInt32(entry.count)) + entry)
        let error = #expect(throws: AMQPError.self) { try buffer.readTable() }
        #expect(error?.message.contains("nest") == true)
    }

    private func bigEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }

    @Test func shortStringsLongerThan255BytesAreRefused() {
        var buffer = ByteBuffer()
        #expect(throws: AMQPError.self) { try buffer.writeTable([String(repeating: "k", count: 256): .void]) }
    }

    @Test func lookupAndMutationKeepOrder() {
        var table: AMQPTable = ["a": .int8(1), "b": .int8(2)]
        table["a"] = .int8(3)
        table["c"] = .void
        table["b"] = nil
        #expect(table.map(\.key) == ["a", "c"])
        #expect(table["a"] == .int8(3))
        #expect(AMQPFieldValue.string("ü").stringValue == "ü")
        #expect(AMQPFieldValue.longString([0xFF]).stringValue == nil)
    }
}
