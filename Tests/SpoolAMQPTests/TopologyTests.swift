import AMQPClient
import Foundation
import SpoolAMQP
import SpoolTestSupport
import Testing

/// Topology files and their declaration against the private RabbitMQ.
struct TopologyTests {
    @Test func decodesDefaultsAndRefusesBadFiles() throws {
        let topology = try Topology(json: Data(#"{"exchange":{"name":"spool"},"queues":[{"name":"a"}]}"#.utf8))
        #expect(topology.exchange == Topology.Exchange(name: "spool", type: "direct", durable: true))
        #expect(topology.queues == [Topology.Queue(name: "a", routingKeys: [])])
        for bad in [#"{"queues":[]}"#, #"{"exchange":{"name":""},"queues":[]}"#, "[1,2",
                    #"{"exchange":{"name":"x"},"queues":[{"name":"q"},{"name":"q"}]}"#,
                    #"{"exchange":{"name":"amq.direct"},"queues":[]}"#] {
            #expect(throws: AMQPRPCError.self) { try Topology(json: Data(bad.utf8)) }
        }
    }

    @Test(.enabled(if: RabbitMQServer.shouldRun, "RabbitMQ is missing and SPOOL_SKIP_RABBITMQ=1"))
    func declaringTwiceCreatesNothingTheSecondTime() async throws {
        let server = try await RabbitMQServer.start()
        let connection = try await AMQPConnection.connect(url: try await server.url(virtualHost: "spool-amqp"))
        let suffix = UUID().uuidString.prefix(8)
        let topology = Topology(
            exchange: .init(name: "topo-\(suffix)", type: "topic"),
            queues: [.init(name: "topo-\(suffix).in", routingKeys: ["rpc.#", "jobs.*"]), .init(name: "topo-\(suffix).dead")])
        let first = try await topology.declare(on: connection)
        #expect(first.map(\.kind) == [.exchange, .queue, .binding, .binding, .queue])
        #expect(first.allSatisfy { $0.outcome == .created })
        let second = try await topology.declare(on: connection)
        #expect(second.map(\.name) == first.map(\.name))
        #expect(second.filter { $0.outcome == .created }.isEmpty)
        #expect(second.filter { $0.kind != .binding }.allSatisfy { $0.outcome == .existing })

        let channel = try await connection.openChannel()
        try await channel.queuePurge("topo-\(suffix).in")
        try await channel.confirmSelect()
        try await channel.publish(.init(string: "routed"), exchange: "topo-\(suffix)", routingKey: "jobs.one")
        let routed = try await channel.queueDeclare("topo-\(suffix).in", passive: true)
        #expect(routed.messageCount == 1)
        try await connection.close()
    }
}
