import Foundation
import SQSClient
import SpoolCore
import SpoolSQS
import SpoolTestSupport
import Testing

/// A client of the tests' moto server.
func motoClient() async throws -> SQSClient {
    try motoClient(endpoint: try await MotoServer.start().endpoint)
}

/// A client of the SQS server at `endpoint` (a moto, or a proxy in front of one), with test keys,
/// making up to `attempts` attempts a call.
func motoClient(endpoint: String, attempts: Int = SQSClient.Retry().maximumAttempts) throws -> SQSClient {
    SQSClient(configuration: try AWSConfiguration.sqs(environment: [
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_SQS": endpoint, "HOME": "/nonexistent",
    ]), retry: SQSClient.Retry(maximumAttempts: attempts))
}

/// The shared transport conformance suite, unchanged, against moto.
@Suite("SQS transport conformance", .enabled(if: MotoServer.shouldRun, "SPOOL_SKIP_MOTO=1"), .timeLimit(.minutes(3)))
struct SQSTransportConformanceTests {
    @Test(arguments: TransportConformance.cases)
    func conformance(_ check: TransportConformanceCase) async throws {
        let client = try await motoClient()
        let destination = "conformance-\(UUID().uuidString.prefix(8).lowercased())"
        try await check.run(TransportFixture(destination: destination) { SQSTransport(client: client) })
    }
}

/// What the SQS transport does beyond the conformance suite.
@Suite("SQS transport", .enabled(if: MotoServer.shouldRun, "SPOOL_SKIP_MOTO=1"), .timeLimit(.minutes(3)))
struct SQSTransportTests {
    @Test("destinations map to SQS queue names: '.' becomes '-', other characters are refused")
    func queueNames() throws {
        #expect(try SQSTransport.queueName("mirror.changes") == "mirror-changes")
        #expect(try SQSTransport.queueName("jobs.dead") == "jobs-dead")
        #expect(try SQSTransport.queueName("mirror.units.fifo") == "mirror-units.fifo", "a final .fifo names a FIFO queue")
        #expect(try SQSTransport.queueName("mirror.fifo.dead") == "mirror-fifo-dead", "its dead letters go to a standard queue")
        for bad in ["", "with space", "slash/name", String(repeating: "x", count: 81), "ünïcode"] {
            let error = #expect(throws: SpoolError.self) { _ = try SQSTransport.queueName(bad) }
            #expect(error?.code == .invalidArgument, "\(bad)")
        }
    }

    @Test("a .fifo destination: messages with ordering keys come one at a time in publish order to any receiver; a message sent twice arrives once")
    func fifo() async throws {
        let client = try await motoClient()
        let publisher = SQSTransport(client: client)
        let destination = "ordered-\(UUID().uuidString.prefix(8).lowercased()).fifo"
        let keys = try JSONPayload(encoding: ["Page/a"]).text
        let messages = (0..<6).map { TransportMessage(id: "m\($0)", headers: [orderKeysHeader: keys], text: "\($0)") }
        try await publisher.publish(messages, to: destination)
        try await publisher.publish(messages[0], to: destination)
        let first = SQSTransport(client: client), second = SQSTransport(client: client)
        var order: [String] = []
        var round = 0
        while order.count < 6, round < 60 {
            round += 1
            let receiver = round.isMultiple(of: 2) ? first : second
            let taken = try await receiver.receive(from: destination, limit: 1, wait: .seconds(1), visibility: .seconds(30))
            if let delivery = taken.first {
                #expect(try await (round.isMultiple(of: 2) ? second : first).receive(from: destination, limit: 1, wait: .milliseconds(200),
                                                                                    visibility: .seconds(30)).isEmpty,
                        "while one is held, the other receiver gets none of the group")
                order.append(delivery.message.id)
                try await receiver.acknowledge(delivery)
            }
        }
        #expect(order == ["m0", "m1", "m2", "m3", "m4", "m5"], "publish order, and m0's second send dropped")
        for transport in [publisher, first, second] { try await transport.close() }
    }

    @Test("text bodies go as they are, other bodies base64; a plain SQS message from another client arrives with its attributes as headers")
    func bodies() async throws {
        let client = try await motoClient()
        let transport = SQSTransport(client: client)
        let destination = "bodies-\(UUID().uuidString.prefix(8).lowercased())"
        try await transport.publish([TransportMessage(id: "text", text: #"{"a":"ü"}"#),
                                     TransportMessage(id: "bytes", body: [0, 1, 2, 0xFF])], to: destination)
        let queue = try await client.getQueueURL(destination)
        let raw = try await client.receiveMessages(queue, maximum: 10, waitSeconds: 1, visibilitySeconds: 0)
        #expect(Set(raw.map(\.body)) == [#"{"a":"ü"}"#, Data([0, 1, 2, 0xFF]).base64EncodedString()])
        _ = try await client.sendMessage(queue, SQSOutgoingMessage(body: "from boto", attributes: ["origin": .string("python")]))
        var seen: [String: TransportMessage] = [:]
        while seen.count < 3 {
            for delivery in try await transport.receive(from: destination, limit: 10, wait: .seconds(5), visibility: .seconds(30)) {
                seen[String(decoding: delivery.message.body, as: UTF8.self)] = delivery.message
                try await transport.acknowledge(delivery)
            }
        }
        #expect(seen[#"{"a":"ü"}"#]?.id == "text")
        #expect(seen.values.contains { $0.id == "bytes" && $0.body == [0, 1, 2, 0xFF] })
        #expect(seen["from boto"]?.headers == ["origin": "python"])
        try await transport.close()
    }

    @Test("without visibility extension, a delivery settled after its visibility passed is stale; a retry beyond SQS's 12 hours is kept back")
    func staleAndLongDelays() async throws {
        let transport = SQSTransport(client: try await motoClient(), configuration: .init(keepsVisibility: false))
        let destination = "stale-\(UUID().uuidString.prefix(8).lowercased())"
        try await transport.publish(TransportMessage(id: "m", text: "x"), to: destination)
        let first = try #require(try await transport.receive(from: destination, limit: 1, wait: .seconds(5), visibility: .seconds(1)).first)
        try await Task.sleep(for: .milliseconds(1_100))
        let stale = await #expect(throws: SpoolError.self) { try await transport.acknowledge(first) }
        #expect(stale?.code == .invalidState)
        let second = try #require(try await transport.receive(from: destination, limit: 1, wait: .seconds(5), visibility: .seconds(30)).first)
        #expect(second.message.id == "m" && second.deliveryCount == 2)
        try await transport.retry(second, after: .seconds(13 * 3600))
        #expect(try await transport.receive(from: destination, limit: 1, wait: .seconds(2), visibility: .seconds(30)).isEmpty,
                "re-sent for 13 hours later: received early, it is hidden again")
        try await transport.close()
    }
}

/// Spool and Python's boto3 on the same queues, through moto.
@Suite("SQS interoperability with boto3", .enabled(if: MotoServer.shouldRun, "SPOOL_SKIP_MOTO=1"), .timeLimit(.minutes(3)))
struct SQSInteropTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("boto/interop.py").path

    static func boto(_ arguments: String...) async throws -> String {
        let moto = try await MotoServer.start()
        let outcome = try await offPool { try ChildProcess.run("/usr/bin/env", [MotoServer.python, script, moto.endpoint] + arguments) }
        guard outcome.status == 0 else {
            throw ServerError("boto3 \(arguments.first ?? "") exited \(outcome.status): \(outcome.errors.suffix(400)) (pip install boto3, or SPOOL_SKIP_MOTO=1)")
        }
        return outcome.output
    }

    @Test("boto3 sends with attributes and a FIFO group; Spool receives them, in the group's order")
    func botoToSpool() async throws {
        let name = "boto-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await Self.boto("send", name)
        let client = try await motoClient()
        let transport = SQSTransport(client: client)
        var received: [TransportMessage] = []
        while received.count < 3 {
            for delivery in try await transport.receive(from: name, limit: 10, wait: .seconds(5), visibility: .seconds(30)) {
                received.append(delivery.message)
                try await transport.acknowledge(delivery)
            }
        }
        let bodies = received.map { String(decoding: $0.body, as: UTF8.self) }.sorted()
        #expect(bodies == (0..<3).map { #"{"n": \#($0), "text": "h\u00e9llo"}"# })
        #expect(received.allSatisfy { $0.headers["origin"] == "boto3" && $0.headers["index"] != nil })
        let fifo = try await client.getQueueURL(name + ".fifo")
        var ordered: [String] = []
        for _ in 0..<5 where ordered.count < 3 {
            for message in try await client.receiveMessages(fifo, maximum: 10, waitSeconds: 1) {
                ordered.append(message.body)
                try await client.deleteMessage(fifo, receiptHandle: message.receiptHandle)
            }
        }
        #expect(ordered == ["first", "second", "third"])
        try await transport.close()
    }

    @Test("Spool publishes; boto3 receives the body and sees the id and headers as attributes")
    func spoolToBoto() async throws {
        let name = "spool-\(UUID().uuidString.prefix(8).lowercased())"
        let transport = SQSTransport(client: try await motoClient())
        try await transport.publish([TransportMessage(id: "change-1", headers: ["entity": "page"], text: #"{"op":"modify"}"#),
                                     TransportMessage(id: "change-2", text: "plain")], to: name)
        let lines = try await Self.boto("receive", name, "2").split(separator: "\n")
        struct Seen: Decodable { var body: String; var attributes: [String: String] }
        let seen = Dictionary(uniqueKeysWithValues: try lines.map { line in
            let decoded = try JSONDecoder().decode(Seen.self, from: Data(line.utf8))
            return (decoded.body, decoded.attributes)
        })
        #expect(seen.keys.sorted() == ["plain", #"{"op":"modify"}"#])
        #expect(seen[#"{"op":"modify"}"#] == ["spool-id": "change-1", "spool-headers": #"{"entity":"page"}"#])
        #expect(seen["plain"] == ["spool-id": "change-2"])
        try await transport.close()
    }
}
