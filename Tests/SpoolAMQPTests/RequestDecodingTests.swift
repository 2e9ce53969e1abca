@testable import AMQPClient
import NIOCore
@testable import SpoolAMQP
import SpoolCore
import Testing

/// The daemon's request decoding on what a remote party may send: 5,000 reproducible random
/// requests (header tables with every field type, odd and oversized UUIDs and reply-to names,
/// bodies of random bytes) are routed and parsed without a trap, and every one is either
/// answered or dead-lettered with a reason.
@Suite("RPC request decoding on hostile input")
struct RequestDecodingTests {
    @Test("random requests are routed to an answer or a dead letter with a reason, and random bodies never trap the parser")
    func randomRequests() async {
        var random = SeededRandom(seed: 0xDEC0DE)
        func next() -> UInt64 { random.next() }
        func bytes(_ limit: Int) -> [UInt8] { (0..<Int(next() % UInt64(limit + 1))).map { _ in UInt8(truncatingIfNeeded: next()) } }
        func value(_ depth: Int) -> AMQPFieldValue {
            switch next() % 9 {
            case 0: .string(String(decoding: bytes(40), as: UTF8.self))
            case 1: .longString(bytes(40))
            case 2: .bytes(bytes(40))
            case 3: .int64(Int64(bitPattern: next()))
            case 4: .double(Double(bitPattern: next()))
            case 5: depth < 2 ? .table([AMQPTable.Entry(key: "k", value: value(depth + 1))].reduce(into: AMQPTable()) { $0[$1.key] = $1.value }) : .void
            case 6: depth < 2 ? .array([value(depth + 1), value(depth + 1)]) : .void
            case 7: .string(String(repeating: "u", count: 200 + Int(next() % 400)))
            default: .void
            }
        }
        var answered = 0, deadLettered = 0
        for round in 0..<5_000 {
            // Hand the thread back now and then: the suite runs beside tests waiting on real servers.
            if round % 100 == 0 { await Task.yield() }
            var headers = AMQPTable()
            if next() % 4 != 0 { headers[AMQPRPCHeader.uuid] = value(0) }
            if next() % 3 == 0 { headers["x-\(next() % 5)"] = value(0) }
            let replyTo: String? = switch next() % 4 {
            case 0: nil
            case 1: ""
            default: String(decoding: bytes(30), as: UTF8.self)
            }
            let delivery = AMQPDelivery(body: ByteBuffer(bytes: bytes(64)), properties: .init(headers: headers, replyTo: replyTo),
                                        deliveryTag: 1, redelivered: false, exchange: "", routingKey: "q", consumerTag: "c",
                                        channelID: 1, generation: 0)
            switch AMQPRPCDaemon.route(delivery, replyExchange: next() % 2 == 0 ? "answers" : nil, replyRoutingKey: "out") {
            case .reply(let uuid, _, let routingKey):
                #expect(!uuid.isEmpty && uuid.utf8.count <= AMQPRPCDaemon.maximumUUIDBytes)
                #expect(!routingKey.isEmpty, "an answer always has somewhere to go")
                answered += 1
            case .deadLetter(let reason):
                #expect(!reason.isEmpty)
                deadLettered += 1
            }
            _ = try? JSONPayload(messageBody: delivery.body)
        }
        #expect(answered > 100 && deadLettered > 1_000, "both paths taken: \(answered) answered, \(deadLettered) dead-lettered")
    }
}

@Suite("RPC answers the broker refused")
struct RefusedAnswersTests {
    @Test("the newest refused requests are remembered with their reason, the oldest forgotten past the capacity")
    func boundedMemory() {
        let refused = RefusedAnswers(capacity: 3)
        for index in 0..<5 { refused.remember("u\(index)", reason: "501 FRAME_ERROR \(index)") }
        refused.remember("u4", reason: "502 SYNTAX_ERROR")
        #expect(refused.reason(for: "u0") == nil && refused.reason(for: "u1") == nil)
        #expect(refused.reason(for: "u2") == "501 FRAME_ERROR 2")
        #expect(refused.reason(for: "u4") == "502 SYNTAX_ERROR", "remembered again: the latest reason, counted once")
        refused.remember("u5", reason: "501")
        #expect(refused.reason(for: "u2") == nil && refused.reason(for: "u3") != nil)
    }
}
