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
        roundTripClientFrames(input)
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

    /// The frames the client sends (`basic.publish` and its content header), built from the
    /// input's bytes as choices (field types, lengths, contents, nesting), must encode (or be
    /// refused with an error), decode to the same properties, and encode again to the same bytes.
    private static func roundTripClientFrames(_ input: ByteBuffer) {
        var choices = Choices(input)
        let table = choices.table(depth: 0)
        let properties = AMQPBasicProperties(
            contentType: choices.shortString(), headers: table, deliveryMode: choices.byte(), priority: choices.byte(),
            correlationID: choices.shortString(), replyTo: choices.shortString(), messageID: choices.shortString(),
            type: choices.shortString())
        let frames: [Frame] = [
            .method(channel: 1, .basicPublish(.init(exchange: choices.shortString() ?? "", routingKey: choices.shortString() ?? "",
                                                    mandatory: choices.byte() ?? 0 > 127))),
            .header(channel: 1, .init(bodySize: UInt64(choices.byte() ?? 0), properties: properties)),
        ]
        for frame in frames {
            guard (try? encode(frame)) != nil else { continue }   // e.g. a short string over 255 bytes: refused, not sent
            checkStableEncoding(frame)
        }
        if let encoded = try? encode(frames[1]) {
            var buffer = encoded
            guard case .header(_, let header)? = try? Frame.decode(from: &buffer, maximumSize: UInt32.max) else {
                preconditionFailure("a content header the client encodes does not decode")
            }
            precondition(header.properties.isNaNFree == false || header.properties == properties,
                         "a content header does not decode to the properties it was made from")
        }
    }

    /// Reads the input as a stream of small decisions; runs out into defaults.
    private struct Choices {
        var bytes: ByteBuffer

        init(_ bytes: ByteBuffer) { self.bytes = bytes }

        mutating func byte() -> UInt8? { bytes.readInteger(as: UInt8.self) }

        mutating func count(_ limit: Int) -> Int { Int(byte() ?? 0) % (limit + 1) }

        mutating func text(_ limit: Int) -> String {
            let length = count(limit)
            return String(decoding: bytes.readBytes(length: min(length, bytes.readableBytes)) ?? [], as: UTF8.self)
        }

        mutating func shortString() -> String? {
            guard let flag = byte(), flag & 1 == 1 else { return nil }
            return text(255)
        }

        mutating func value(depth: Int) -> AMQPFieldValue {
            switch (byte() ?? 0) % 17 {
            case 0: return .boolean(byte() ?? 0 > 127)
            case 1: return .int8(Int8(bitPattern: byte() ?? 0))
            case 2: return .uint8(byte() ?? 0)
            case 3: return .int16(Int16(byte() ?? 0) &* 257)
            case 4: return .uint16(UInt16(byte() ?? 0) &* 255)
            case 5: return .int32(bytes.readInteger(as: Int32.self) ?? 0)
            case 6: return .uint32(bytes.readInteger(as: UInt32.self) ?? 0)
            case 7: return .int64(bytes.readInteger(as: Int64.self) ?? 0)
            case 8: return .float(Float(bitPattern: bytes.readInteger(as: UInt32.self) ?? 0))
            case 9: return .double(Double(bitPattern: bytes.readInteger(as: UInt64.self) ?? 0))
            case 10: return .decimal(scale: byte() ?? 0, value: bytes.readInteger(as: UInt32.self) ?? 0)
            case 11: return .string(text(300))
            case 12: return depth < 3 ? .array((0..<count(4)).map { _ in value(depth: depth + 1) }) : .void
            case 13: return .timestamp(bytes.readInteger(as: UInt64.self) ?? 0)
            case 14: return depth < 3 ? .table(table(depth: depth + 1)) : .void
            case 15: return .bytes(bytes.readBytes(length: min(count(64), bytes.readableBytes)) ?? [])
            default: return .void
            }
        }

        mutating func table(depth: Int) -> AMQPTable {
            var table: AMQPTable = [:]
            for _ in 0..<count(6) { table[text(260)] = value(depth: depth) }
            return table
        }
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

extension AMQPBasicProperties {
    /// Whether every number in the headers compares equal to itself (no NaN), so that decoded
    /// properties can be compared with `==`.
    fileprivate var isNaNFree: Bool {
        func free(_ value: AMQPFieldValue) -> Bool {
            switch value {
            case .float(let number): !number.isNaN
            case .double(let number): !number.isNaN
            case .array(let values): values.allSatisfy(free)
            case .table(let table): table.allSatisfy { free($0.value) }
            default: true
            }
        }
        return (headers ?? [:]).allSatisfy { free($0.value) }
    }
}
