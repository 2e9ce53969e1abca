import AMQPClient
import NIOCore
import SpoolTestSupport
import Testing

@Suite("AMQP over TLS", .enabled(if: RabbitMQServer.shouldRun))
struct TLSIntegrationTests {
    @Test("amqps:// with the broker's CA: confirmed publishes survive the broker closing the TLS connection; another CA is refused, naming TLS")
    func amqps() async throws {
        let server = try await RabbitMQServer.start()
        let port = try #require(server.tlsPort), caFile = try #require(server.tlsCAFile)
        let url = "amqps://guest:guest@localhost:\(port)/%2f?cacertfile=\(caFile)"

        // Named, so that only this connection is broken below: the node is shared with other tests.
        var configuration = try AMQPConnectionConfiguration(url: url)
        let name = "tls-recovery-\(UInt32.random(in: 0...UInt32.max))"
        configuration.connectionName = name
        let connection = try await AMQPConnection.connect(configuration: configuration)
        var events = connection.events().makeAsyncIterator()
        let channel = try await connection.openChannel()
        let queue = "tls.\(UInt32.random(in: 0...UInt32.max))"
        try await channel.queueDeclare(queue, durable: true)
        try await channel.confirmSelect()
        func publish(_ ids: Range<Int>) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids {
                    group.addTask { try await channel.publish(ByteBuffer(string: "\(id)"), routingKey: queue, properties: .persistent) }
                }
                try await group.waitForAll()
            }
        }
        try await publish(0..<200)
        // Broken mid-stream: publishes unconfirmed then are sent again over the new TLS connection.
        let listing = try await server.rabbitmqctl("list_connections", "-q", "--no-table-headers", "pid", "client_properties")
        let pid = try #require(listing.split(separator: "\n").first { $0.contains(name) }?.split(separator: "\t").first.map(String.init),
                               "the broker lists the connection: \(listing)")
        async let broken = server.rabbitmqctl("close_connection", pid, "tls recovery test")
        try await publish(200..<400)
        _ = try await broken
        try await publish(400..<500)
        var seen: [AMQPConnectionEvent] = []
        while let event = await events.next() {
            seen.append(event)
            if event == .recovered { break }
        }
        #expect(seen.first.map { if case .recovering = $0 { true } else { false } } == true && seen.last == .recovered,
                "the TLS connection broke and recovered: \(seen)")

        let consumerChannel = try await connection.openChannel()
        try await consumerChannel.basicQos(prefetchCount: 100)
        let received = try await withDeadline(.seconds(60)) {
            var received = Set<Int>()
            for try await delivery in try await consumerChannel.consume(queue: queue) {
                if let id = Int(String(buffer: delivery.body)) { received.insert(id) }
                try await consumerChannel.ack(delivery)
                if received.count == 500 { break }
            }
            return received
        }
        #expect(received == Set(0..<500), "every confirmed message arrived")
        try await channel.queueDelete(queue)
        try await connection.close()

        let strangers = try await offPool { try TestCertificates() }
        let refused = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(url: "amqps://guest:guest@localhost:\(port)/%2f?cacertfile=\(strangers.caFile)", recovery: .disabled)
        }
        #expect(refused?.description.contains("TLS with localhost:\(port) failed") == true, "\(refused.map { "\($0)" } ?? "")")
    }

    @Test("amqps:// URLs: port 5671 by default, RabbitMQ's TLS query items, and TLS items refused on amqp://")
    func urls() throws {
        let secure = try AMQPConnectionConfiguration(url: "amqps://u:p@broker.example/%2f?cacertfile=/ca.pem&server_name_indication=mq.example")
        #expect(secure.port == 5671 && secure.tls?.caFile == "/ca.pem" && secure.tls?.serverName == "mq.example" && secure.tls?.verifyPeer == true)
        #expect(try AMQPConnectionConfiguration(url: "amqps://h?verify=verify_none").tls?.verifyPeer == false)
        #expect(try AMQPConnectionConfiguration(url: "amqp://h").tls == nil)
        #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(url: "amqp://h?cacertfile=/ca.pem") }
        #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(url: "amqps://h?certfile=/c.pem") }
        #expect(throws: AMQPError.self) { try AMQPConnectionConfiguration(url: "amqps://h?verify=maybe") }
        #expect(AMQPConnectionConfiguration.redacted("amqps://u:secret@h/") == "amqps://u:***@h/")
    }
}
