import AMQPClient
import Foundation
import SpoolAMQP
import SpoolCore
import SpoolTestSupport
import Testing

/// Spool's RPC client and daemon against Python's `pika`, on the same private RabbitMQ.
///
/// Needs `python3` with `pika` (`pip install pika`); `SPOOL_PYTHON` names another interpreter.
/// When pika is missing the tests fail, unless `SPOOL_SKIP_PIKA=1` says to skip them.
@Suite(.enabled(if: RabbitMQServer.shouldRun && Pika.shouldRun, "SPOOL_SKIP_PIKA=1 or RabbitMQ is skipped"),
       .timeLimit(.minutes(3)))
struct PikaInteropTests {
    @Test func pikaClientCallsTheSpoolDaemon() async throws {
        try await Pika.require()
        let fixture = try await RPCFixture.make()
        let output = try await fixture.withDaemon { _ in
            try await Pika.run("rpc_client.py", fixture.url, fixture.queue)
        }
        let result = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        #expect((result?["echo"] as? [String: Any])?["n"] as? Int == 7)
        #expect((result?["echo"] as? [String: Any])?["from"] as? String == "pika")
        #expect(result?["echo_has_exception"] as? Bool == false)
        #expect(result?["exception"] as? String == "pika asked for it")
        #expect(result?["exception_name"] as? String == "AMQPRPCFailure")
        #expect(result?["exception_type"] as? String == "requested_failure")
        #expect((result?["bytes_uuid_echo"] as? [String: Any])?["uuid"] as? String == "bytes", "a UUID sent as bytes is answered")
        try await fixture.close()
    }

    @Test func anEdepositClientIsAnsweredOnItsResultQueue() async throws {
        try await Pika.require()
        let fixture = try await RPCFixture.make()
        let exchange = "\(fixture.queue).exchange", results = "\(fixture.queue).results"
        try await fixture.channel.exchangeDeclare(exchange, type: "direct", durable: true)
        try await fixture.channel.queueBind(queue: fixture.queue, exchange: exchange, routingKey: "request")
        try await fixture.channel.queueDeclare(results, durable: true)
        try await fixture.channel.queueBind(queue: results, exchange: exchange, routingKey: "result")
        var configuration = AMQPRPCDaemon.Configuration(inputQueue: fixture.queue)
        configuration.replyExchange = exchange
        configuration.replyRoutingKey = "result"
        configuration.typeField = "__nt_name"
        configuration.exceptionTypeStyle = .python
        let output = try await fixture.withDaemon(configuration: configuration) { _ in
            try await Pika.run("edeposit_client.py", fixture.url, exchange, "request", results)
        }
        let result = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        #expect((result?["echo"] as? [String: Any])?["isbn"] as? String == "80-251-0225-4")
        #expect(result?["echo_has_exception"] as? Bool == false)
        #expect(result?["exception"] as? String == "no such ISBN")
        #expect(result?["exception_name"] as? String == "AMQPRPCFailure")
        #expect(result?["exception_type"] as? String == "<class 'AMQPRPCFailure'>")
        try await fixture.close()
    }

    @Test func spoolClientCallsAPikaServer() async throws {
        try await Pika.require()
        let fixture = try await RPCFixture.make()
        let server = Task { try await Pika.run("rpc_server.py", fixture.url, fixture.queue, "2") }
        let client = try await fixture.client(timeout: .seconds(60))
        let upper = try await client.call("py.upper", ["text": "spool"], as: [String: String].self)
        #expect(upper == ["upper": "SPOOL"])
        let error = await #expect(throws: AMQPRPCRemoteError.self) {
            _ = try await client.call("py.missing", body: "{}")
        }
        #expect(error?.message == "no handler for py.missing")
        #expect(error?.name == "LookupError")
        #expect(error?.type == "<class 'LookupError'>")
        _ = try await server.value
        try await client.close()
        try await fixture.close()
    }
}

/// The Python interpreter with pika, and the scripts under `pika/`.
enum Pika {
    static let python = ProcessInfo.processInfo.environment["SPOOL_PYTHON"] ?? "python3"
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pika")

    /// Whether the pika tests run: always, unless `SPOOL_SKIP_PIKA=1`.
    static var shouldRun: Bool { ProcessInfo.processInfo.environment["SPOOL_SKIP_PIKA"] != "1" }

    /// Fails with a clear message when the interpreter cannot import pika.
    static func require() async throws {
        do {
            _ = try await runProcess(python, ["-c", "import pika"])
        } catch {
            throw ServerError("\(python) cannot import pika: run `pip install pika` (or name an interpreter that can with SPOOL_PYTHON), or set SPOOL_SKIP_PIKA=1 to skip the pika interoperability tests")
        }
    }

    /// Runs one of the scripts under `pika/` and returns its standard output.
    static func run(_ script: String, _ arguments: String...) async throws -> String {
        try await runProcess(python, [scripts.appendingPathComponent(script).path] + arguments)
    }

    /// Runs `executable` (looked up on PATH) to completion on a thread of its own; throws with its
    /// standard error when it exits non-zero.
    static func runProcess(_ executable: String, _ arguments: [String]) async throws -> String {
        try await offPool {
            let outcome = try ChildProcess.run("/usr/bin/env", [executable] + arguments)
            guard outcome.status == 0 else {
                let message = outcome.errors.trimmingCharacters(in: .whitespacesAndNewlines)
                throw ServerError("\(executable) \(arguments.first ?? "") exited \(outcome.status): \(message)")
            }
            return outcome.output
        }
    }
}
