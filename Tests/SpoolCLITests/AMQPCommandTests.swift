import AMQPClient
import Foundation
import NIOCore
import SpoolAMQP
import SpoolTestSupport
import Testing

/// `spool amqp declare` and `spool amqp serve` through the built binary, against the private RabbitMQ.
@Suite(.enabled(if: RabbitMQServer.shouldRun, "RabbitMQ is missing and SPOOL_SKIP_RABBITMQ=1"), .timeLimit(.minutes(3)))
struct AMQPCommandTests {
    private func brokerURL() async throws -> String {
        try await RabbitMQServer.start().url(virtualHost: "spool-cli")
    }

    @Test func declarePrintsWhatItCreatedAndNothingTheSecondTime() async throws {
        let url = try await brokerURL()
        let directory = try TemporaryDirectory()
        let name = "cli-\(UUID().uuidString.prefix(8))"
        let config = directory.path("topology.json")
        try #"{"exchange": {"name": "\#(name)", "type": "direct"}, "queues": [{"name": "\#(name).rpc", "routingKeys": ["rpc"]}]}"#
            .write(toFile: config, atomically: true, encoding: .utf8)

        let first = try await SpoolProcess.run(["amqp", "declare", "--config", config, "--amqp", url])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.split(separator: "\n") == [
            "created exchange \(name)", "created queue \(name).rpc", "created binding \(name) -> \(name).rpc (rpc)",
        ])
        let second = try await SpoolProcess.run(["amqp", "declare", "--config", config], environment: ["SPOOL_AMQP_URL": url])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.hasPrefix("nothing changed"))
        #expect(!second.stdout.contains("created"))
    }

    @Test func declareFailuresAreOneLine() async throws {
        let directory = try TemporaryDirectory()
        let config = directory.path("bad.json")
        try #"{"exchange": {}}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let invalid = try await SpoolProcess.run(["amqp", "declare", "--config", config, "--amqp", "amqp://guest:guest@127.0.0.1:1/"])
        #expect(invalid.status == 1)
        #expect(invalid.stderr.hasPrefix("spool: the topology is not valid"))
        #expect(invalid.stderr.split(separator: "\n").count == 1)

        try #"{"exchange": {"name": "x"}, "queues": []}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let unreachable = try await SpoolProcess.run(["amqp", "declare", "--config", config, "--amqp", "amqp://guest:guest@127.0.0.1:1/"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.hasPrefix("spool: "))
        #expect(unreachable.stderr.split(separator: "\n").count == 1)
    }

    @Test func serveAnswersBuiltinsDeadLettersAndStopsOnSIGTERM() async throws {
        let url = try await brokerURL()
        let directory = try TemporaryDirectory()
        let queue = "serve-\(UUID().uuidString.prefix(8))"
        let connection = try await AMQPConnection.connect(url: url)
        let channel = try await connection.openChannel()
        try await channel.queueDeclare(queue, durable: true)
        let serve = try SpoolProcess.start(["amqp", "serve", "--queue", queue, "--dead-letter", "\(queue).lost", "--amqp", url],
                                           log: directory.path("serve.log"))
        do {
            let client = try await AMQPRPCClient.start(connection: connection, configuration: .init(routingKey: queue))
            let echoed = try await client.call("spool.echo", body: #"{"via":"cli"}"#)
            #expect(echoed.body == #"{"via":"cli"}"#)
            let error = await #expect(throws: AMQPRPCRemoteError.self) { _ = try await client.call("spool.fail", body: "{}") }
            #expect(error?.type == "requested_failure")
            try await channel.publish(ByteBuffer(string: "{}"), routingKey: queue, properties: .init(replyTo: client.replyQueue))
            let lost = try await channel.consume(queue: "\(queue).lost", noAck: true)
            for try await dead in lost {
                #expect(dead.headers[AMQPRPCHeader.deadLetterReason]?.stringValue == "the request has no UUID header")
                break
            }
            try await client.close()
        } catch {
            serve.terminate()
            throw error
        }
        serve.terminate()
        await SpoolProcess.waitForExit(serve)
        let log = (try? String(contentsOfFile: directory.path("serve.log"), encoding: .utf8)) ?? ""
        #expect(serve.terminationStatus == 0, "\(log)")
        #expect(log.contains("RPC request dead-lettered"))
        #expect(log.contains("RPC daemon stopped"))
        try await connection.close()
    }
}
