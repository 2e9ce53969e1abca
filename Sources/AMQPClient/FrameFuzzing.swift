import NIOCore

/// The entry point of the `AMQPFrameFuzz` libFuzzer target (SPI, not part of the public API).
///
/// It feeds arbitrary bytes to every decoder that reads data from the network and checks that
/// whatever decodes re-encodes to a stable form. Decoders must return errors, never trap: a trap
/// anywhere here is a bug the fuzzer reports.
@_spi(Fuzzing)
public enum FrameFuzzing {
    /// Runs one fuzz input.
    public static func run(_ bytes: UnsafeRawBufferPointer) {
        let input = ByteBuffer(bytes: bytes)
        decodeFrames(input)
        decodeParts(input)
        feedStateMachine(input)
    }

    /// Valid byte sequences to start fuzzing from: every field type, content split over frames,
    /// confirms and closes, so mutations reach deep decoder paths quickly.
    public static var seeds: [[UInt8]] {
        let everyType: AMQPTable = [
            "t": .boolean(true), "b": .int8(-1), "B": .uint8(1), "s": .int16(-2), "u": .uint16(2), "I": .int32(-3),
            "i": .uint32(3), "l": .int64(-4), "f": .float(0.5), "d": .double(0.25), "D": .decimal(scale: 1, value: 5),
            "S": .string("text"), "A": .array([.int8(1), .table(["k": .void])]), "T": .timestamp(6),
            "F": .table(["n": .uint8(7)]), "V": .void, "x": .bytes([8]),
        ]
        let properties = AMQPBasicProperties(
            contentType: "a", contentEncoding: "b", headers: everyType, deliveryMode: 2, priority: 1, correlationID: "c",
            replyTo: "d", expiration: "1", messageID: "e", timestamp: 9, type: "f", userID: "g", appID: "h", clusterID: "i")
        let sequences: [[Frame]] = [
            [.method(channel: 0, .connectionStart(.init(serverProperties: everyType, mechanisms: "PLAIN", locales: "en_US")))],
            [.method(channel: 0, .connectionTune(.init(channelMax: 0, frameMax: 131_072, heartbeat: 60))), .heartbeat],
            [.method(channel: 1, .basicDeliver(.init(consumerTag: "c", deliveryTag: 1, redelivered: true, exchange: "x",
                                                    routingKey: "k"))),
             .header(channel: 1, .init(bodySize: 4, properties: properties)),
             .body(channel: 1, ByteBuffer(string: "ab")), .body(channel: 1, ByteBuffer(string: "cd"))],
            [.method(channel: 1, .basicAck(deliveryTag: 5, multiple: true)),
             .method(channel: 1, .basicNack(deliveryTag: 6, multiple: false, requeue: true))],
            [.method(channel: 1, .channelClose(.init(replyCode: 404, replyText: "NOT_FOUND", classID: 50, methodID: 10))),
             .method(channel: 0, .connectionClose(.init(replyCode: 320, replyText: "CONNECTION_FORCED")))],
            [.method(channel: 1, .queueDeclareOk(.init(queue: "q", messageCount: 1, consumerCount: 2))),
             .method(channel: 1, .basicGetEmpty), .method(channel: 1, .basicConsumeOk(consumerTag: "c"))],
        ]
        return sequences.compactMap { frames in
            var buffer = ByteBuffer()
            for frame in frames { guard (try? frame.encode(into: &buffer)) != nil else { return nil } }
            return Array(buffer.readableBytesView)
        }
    }

    private static func decodeFrames(_ input: ByteBuffer) {
        var buffer = input
        while let frame = try? Frame.decode(from: &buffer, maximumSize: 131_072) {
            checkStableEncoding(frame)
        }
    }

    private static func decodeParts(_ input: ByteBuffer) {
        if let method = try? Method.decode(input) { checkStableEncoding(.method(channel: 1, method)) }
        var properties = input
        if let decoded = try? AMQPBasicProperties.decode(from: &properties) {
            checkStableEncoding(.header(channel: 1, Frame.ContentHeader(bodySize: 0, properties: decoded)))
        }
        var table = input
        _ = try? table.readTable()
    }

    /// A decoded frame must encode, and decoding and encoding that must give the same bytes.
    private static func checkStableEncoding(_ frame: Frame) {
        guard let first = try? encode(frame) else { preconditionFailure("a decoded frame does not encode: \(frame)") }
        var buffer = first
        guard let decoded = try? Frame.decode(from: &buffer, maximumSize: UInt32.max), let second = try? encode(decoded) else {
            preconditionFailure("an encoded frame does not decode: \(frame)")
        }
        precondition(first == second, "encoding is not stable for \(frame)")
    }

    private static func encode(_ frame: Frame) throws(AMQPError) -> ByteBuffer {
        var buffer = ByteBuffer()
        try frame.encode(into: &buffer)
        return buffer
    }

    /// Bytes after a completed handshake, with channel 1 open, must never trap the state machine.
    private static func feedStateMachine(_ input: ByteBuffer) {
        var machine = ConnectionStateMachine(configuration: .init(user: "u", password: "p", virtualHost: "/"))
        _ = machine.start()
        var handshake = ByteBuffer()
        let frames: [Frame] = [
            .method(channel: 0, .connectionStart(.init(serverProperties: [:], mechanisms: "PLAIN", locales: "en_US"))),
            .method(channel: 0, .connectionTune(.init(channelMax: 0, frameMax: 131_072, heartbeat: 60))),
            .method(channel: 0, .connectionOpenOk),
        ]
        for frame in frames { try? frame.encode(into: &handshake) }
        _ = machine.bytesReceived(&handshake)
        _ = try? machine.openChannel(1)
        var open = ByteBuffer()
        try? Frame.method(channel: 1, .channelOpenOk).encode(into: &open)
        _ = machine.bytesReceived(&open)
        var buffer = input
        _ = machine.bytesReceived(&buffer)
        _ = machine.heartbeatTick()
    }
}
