import AMQPClient
import Foundation
import NIOCore
import SpoolAMQP
import SpoolCore
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
        #expect(second.stdout.contains("nothing created: 2 exchanges and queues already declared"), "\(second.stdout)")
        #expect(second.stdout.contains("bound \(name) -> \(name).rpc (rpc) (already bound, or bound now"), "\(second.stdout)")
        #expect(!second.stdout.contains("created "))

        // A routing key added to the file is bound, and said so, not "nothing changed".
        try #"{"exchange": {"name": "\#(name)", "type": "direct"}, "queues": [{"name": "\#(name).rpc", "routingKeys": ["rpc", "more"]}]}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let third = try await SpoolProcess.run(["amqp", "declare", "--config", config, "--amqp", url])
        #expect(third.status == 0 && third.stdout.contains("bound \(name) -> \(name).rpc (more)"), "\(third.stdout)")

        // The same exchange described with another type is refused with the broker's reason.
        try #"{"exchange": {"name": "\#(name)", "type": "fanout"}, "queues": []}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let mismatch = try await SpoolProcess.run(["amqp", "declare", "--config", config, "--amqp", url])
        #expect(mismatch.status == 1 && mismatch.stderr.contains("exists with other settings than the topology's (type fanout"),
                "\(mismatch.stderr)")
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
        await serve.waitForExit()
        let log = (try? String(contentsOfFile: directory.path("serve.log"), encoding: .utf8)) ?? ""
        #expect(serve.terminationStatus == 0, "\(log)")
        #expect(log.contains("RPC request dead-lettered"))
        #expect(log.contains("RPC daemon stopped"))
        try await connection.close()
    }

    /// The resident memory of process `pid`, in KiB.
    private static func residentKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test func poisonRequestsAreAnsweredOrDeadLetteredAndTheDaemonGoesOn() async throws {
        let url = try await brokerURL()
        let directory = try TemporaryDirectory()
        let queue = "poison-\(UUID().uuidString.prefix(8))"
        let connection = try await AMQPConnection.connect(url: url)
        let channel = try await connection.openChannel()
        try await channel.queueDeclare(queue, durable: true)
        try await channel.queueDeclare("\(queue).dead", durable: true)
        let serve = try SpoolProcess.start(["amqp", "serve", "--queue", queue, "--amqp", url], log: directory.path("serve.log"))
        defer { if serve.isRunning { serve.signal(SIGKILL) } }
        let client = try await AMQPRPCClient.start(connection: connection, configuration: .init(routingKey: queue, timeout: .seconds(20)))
        _ = try await client.call("spool.echo", body: "{}")
        let before = Self.residentKiB(serve.processIdentifier)

        // A failure whose message alone is larger than the broker's frame-max.
        let long = String(repeating: "x", count: 200_000)
        let error = await #expect(throws: AMQPRPCRemoteError.self) {
            _ = try await client.call("spool.fail", body: JSONPayload(unchecked: #"{"message":"\#(long)","other":1}"#))
        }
        #expect(error?.message.hasPrefix("xxxx") == true, "the message is kept as far as it fits")
        #expect(error?.message.hasSuffix("[truncated from 200000 bytes]") == true)
        #expect((error?.message.utf8.count ?? .max) <= AMQPRPCRemoteError.maximumHeaderBytes)

        // A request without a UUID whose own headers fill its frame to within a few bytes: the
        // reason added to dead-letter it would not fit, so it is dead-lettered without them.
        var padding = 131_072 - 40 - client.replyQueue.utf8.count
        var headers: AMQPTable = [:]
        while true {
            headers = ["pad": .string(String(repeating: "y", count: padding))]
            do {
                try await channel.publish(ByteBuffer(string: "{}"), routingKey: queue, properties: .init(headers: headers, replyTo: client.replyQueue))
                break
            } catch let error as AMQPError where error.code == .frameTooLarge {
                padding -= 4
            }
        }
        let dead = try await channel.consume(queue: "\(queue).dead", noAck: true)
        var reason: String?
        for try await letter in dead {
            reason = letter.headers[AMQPRPCHeader.deadLetterReason]?.stringValue
            break
        }
        #expect(reason?.hasPrefix("the request has no UUID header") == true, "\(reason ?? "none")")
        #expect(reason?.contains("were dropped") == true, "\(reason ?? "none")")

        // A message the client itself cannot send fails at once, and the connection stays up.
        headers["more"] = .string(String(repeating: "z", count: 10_000))
        let refused = await #expect(throws: AMQPError.self) {
            try await channel.publish(ByteBuffer(string: "{}"), routingKey: queue, properties: .init(headers: headers))
        }
        #expect(refused?.code == .frameTooLarge)

        let started = ContinuousClock.now
        let echoed = try await client.call("spool.echo", body: #"{"after":"poison"}"#)
        #expect(echoed.body == #"{"after":"poison"}"#)
        print("echo after the poison requests answered in \(ContinuousClock.now - started)")
        for _ in 0..<20 {
            _ = try await client.call("spool.echo", body: "{}")
            try await Task.sleep(for: .seconds(1))
        }
        let after = Self.residentKiB(serve.processIdentifier)
        #expect(after < before + 50_000, "resident memory stays flat: \(before) KiB, then \(after) KiB")
        let log = (try? String(contentsOfFile: directory.path("serve.log"), encoding: .utf8)) ?? ""
        #expect(!log.contains("recovery"), "the daemon's connection never broke: \(log.suffix(2000))")

        try await client.close()
        serve.terminate()
        await serve.waitForExit()
        #expect(serve.terminationStatus == 0)
        try await connection.close()
    }

    @Test func aDaemonKilledMidStreamLosesNoAnswerAndMayRepeatOne() async throws {
        let url = try await brokerURL()
        let directory = try TemporaryDirectory()
        let queue = "killed-\(UUID().uuidString.prefix(8))", replies = "\(queue).replies"
        let connection = try await AMQPConnection.connect(url: url)
        let channel = try await connection.openChannel()
        try await channel.confirmSelect()
        try await channel.queueDeclare(queue, durable: true)
        try await channel.queueDeclare(replies, durable: true)
        let total = 300
        for index in 0..<total {
            try await channel.publish(ByteBuffer(string: #"{"n":\#(index)}"#), routingKey: queue, properties: .init(
                headers: [AMQPRPCHeader.uuid: .string("r\(index)")], deliveryMode: 2, replyTo: replies, type: "spool.echo"))
        }
        let first = try SpoolProcess.start(["amqp", "serve", "--queue", queue, "--amqp", url], log: directory.path("first.log"))
        let deadline = ContinuousClock.now + .seconds(60)
        while try await channel.queueDeclare(replies, passive: true).messageCount < 40, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        first.signal(SIGKILL)
        await first.waitForExit()
        let second = try SpoolProcess.start(["amqp", "serve", "--queue", queue, "--amqp", url], log: directory.path("second.log"))
        defer { if second.isRunning { second.signal(SIGKILL) } }

        var answered: [String: Int] = [:]
        let consumer = try await channel.consume(queue: replies, noAck: true)
        for try await reply in consumer {
            if let uuid = reply.headers[AMQPRPCHeader.uuid]?.stringValue { answered[uuid, default: 0] += 1 }
            if answered.count == total || ContinuousClock.now > deadline { break }
        }
        #expect(answered.count == total, "every request was answered at least once: \(answered.count) of \(total)")
        let repeated = answered.values.filter { $0 > 1 }.count
        print("after a SIGKILL mid-stream: \(total) requests answered, \(repeated) of them twice")
        #expect(answered.values.allSatisfy { $0 <= 2 }, "an answer is repeated at most once")
        second.terminate()
        await second.waitForExit()
        try await connection.close()
    }

    @Test func sigtermStopsTheDaemonWhileItsBrokerIsDown() async throws {
        let server = try await RabbitMQServer.startPrivate()
        defer { server.stop() }
        let directory = try TemporaryDirectory()
        let serve = try SpoolProcess.start(["amqp", "serve", "--queue", "down", "--grace", "3", "--amqp", server.url],
                                           log: directory.path("serve.log"))
        defer { if serve.isRunning { serve.signal(SIGKILL) } }
        let started = ContinuousClock.now + .seconds(30)
        while !((try? String(contentsOfFile: directory.path("serve.log"), encoding: .utf8)) ?? "").contains("RPC daemon consuming"),
              ContinuousClock.now < started {
            try await Task.sleep(for: .milliseconds(50))
        }
        try await server.rabbitmqctl("stop_app")
        try await Task.sleep(for: .seconds(2))   // the daemon's connection broke; it is trying to reconnect
        let stopping = ContinuousClock.now
        serve.terminate()
        let limit = ContinuousClock.now + .seconds(30)
        while serve.isRunning, ContinuousClock.now < limit { try await Task.sleep(for: .milliseconds(50)) }
        let log = (try? String(contentsOfFile: directory.path("serve.log"), encoding: .utf8)) ?? ""
        #expect(!serve.isRunning, "SIGTERM stopped the daemon although its broker was down: \(log.suffix(1500))")
        #expect(log.contains("did not stop within 3.0 s of the signal"), "and it said why: \(log.suffix(800))")
        print("spool amqp serve stopped \(ContinuousClock.now - stopping) after SIGTERM, its broker down")
    }
}
