@testable import AMQPClient
import NIOCore
import Testing

@Suite struct MethodCodingTests {
    @Test func samplesCoverEveryMethodOnce() {
        let ids = Set(CodecFixtures.everyMethod.map { "\($0.ids.classID).\($0.ids.methodID)" })
        #expect(ids.count == CodecFixtures.everyMethod.count)
        #expect(ids.count == 53)
    }

    @Test(arguments: CodecFixtures.everyMethod)
    func methodRoundTrips(_ method: Method) throws {
        let payload = try CodecFixtures.payload(of: method)
        #expect(try Method.decode(payload) == method)
    }

    @Test(arguments: CodecFixtures.everyMethod)
    func everyTruncationIsAnError(_ method: Method) throws {
        let payload = try CodecFixtures.payload(of: method)
        for length in 0..<payload.readableBytes {
            let prefix = payload.getSlice(at: payload.readerIndex, length: length) ?? ByteBuffer()
            #expect(throws: AMQPError.self) { try Method.decode(prefix) }
        }
    }

    @Test func consecutiveBitsShareOneOctetLowestBitFirst() throws {
        let declare = Method.exchangeDeclare(.init(exchange: "x", type: "t", passive: false, durable: true,
                                                   autoDelete: true, internal: false, noWait: true))
        let payload = try CodecFixtures.payload(of: declare)
        #expect(Array(payload.readableBytesView) == [0, 40, 0, 10, 0, 0, 1, 0x78, 1, 0x74, 0b10110, 0, 0, 0, 0])
        let nack = try CodecFixtures.payload(of: .basicNack(deliveryTag: 1, multiple: false, requeue: true))
        #expect(Array(nack.readableBytesView.suffix(1)) == [0b10])
    }

    @Test func unknownMethodIsAnError() {
        let error = #expect(throws: AMQPError.self) { try Method.decode(ByteBuffer(bytes: [0, 60, 0, 99])) }
        #expect(error?.code == .frameError)
        #expect(throws: AMQPError.self) { try Method.decode(ByteBuffer(bytes: [0, 90, 0, 10])) }
    }

    @Test func propertiesRoundTripAllFourteenAndNone() throws {
        for properties in [CodecFixtures.everyProperty, AMQPBasicProperties(), .persistent] {
            var buffer = ByteBuffer()
            try properties.encode(into: &buffer)
            #expect(try AMQPBasicProperties.decode(from: &buffer) == properties)
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func propertyFlagsFollowTheSpecification() throws {
        var buffer = ByteBuffer()
        try AMQPBasicProperties(contentType: "a", deliveryMode: 2, clusterID: "c").encode(into: &buffer)
        #expect(buffer.getInteger(at: 0, as: UInt16.self) == 0b1001_0000_0000_0100)
    }

    @Test func unknownPropertyFlagsAreAnError() {
        var buffer = ByteBuffer(bytes: [0, 1, 0x80, 0])
        #expect(throws: AMQPError.self) { try AMQPBasicProperties.decode(from: &buffer) }
    }

    @Test func framesRoundTrip() throws {
        let frames: [Frame] = [
            .method(channel: 3, .basicAck(deliveryTag: 7, multiple: false)),
            .header(channel: 3, .init(bodySize: 12, properties: CodecFixtures.everyProperty)),
            .body(channel: 3, ByteBuffer(string: "hello world!")), .heartbeat,
        ]
        var buffer = ByteBuffer()
        for frame in frames { try frame.encode(into: &buffer) }
        var decoded: [Frame] = []
        while let frame = try Frame.decode(from: &buffer, maximumSize: 4096) { decoded.append(frame) }
        #expect(decoded == frames)
        #expect(try CodecFixtures.encoded(.heartbeat) == ByteBuffer(bytes: [8, 0, 0, 0, 0, 0, 0, 0xCE]))
    }

    @Test func incompleteFrameConsumesNothing() throws {
        let whole = try CodecFixtures.encoded(.method(channel: 1, .basicQosOk))
        for length in 0..<whole.readableBytes {
            var prefix = whole.getSlice(at: 0, length: length) ?? ByteBuffer()
            #expect(try Frame.decode(from: &prefix, maximumSize: 4096) == nil)
            #expect(prefix.readableBytes == length)
        }
    }

    @Test func badFrameEndIsAnError() throws {
        var buffer = try CodecFixtures.encoded(.heartbeat)
        buffer.setInteger(UInt8(0), at: 7)
        #expect(throws: AMQPError.self) { try Frame.decode(from: &buffer, maximumSize: 4096) }
    }

    @Test func oversizedFrameIsRefusedFromItsHeader() {
        var buffer = ByteBuffer(bytes: [1, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF])
        let error = #expect(throws: AMQPError.self) { try Frame.decode(from: &buffer, maximumSize: 131_072) }
        #expect(error?.message.contains("frame-max") == true)
    }

    @Test func malformedFramesAreErrors() throws {
        let cases: [[UInt8]] = [
            [9, 0, 0, 0, 0, 0, 0, 0xCE],
            [8, 0, 1, 0, 0, 0, 0, 0xCE],
            [2, 0, 1, 0, 0, 0, 14, 0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xCE],
            [3, 0, 1, 0, 0, 0, 1, 0xAA, 0x00],
        ]
        for bytes in cases {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(throws: AMQPError.self) { try Frame.decode(from: &buffer, maximumSize: 4096) }
        }
    }
}
