import Foundation
import SpoolTestSupport
import Testing

/// `spool sqs bench` and `--transport sqs://…` against the tests' moto server.
@Suite("spool sqs", .enabled(if: MotoServer.shouldRun, "SPOOL_SKIP_MOTO=1"), .timeLimit(.minutes(3)))
struct SQSCommandTests {
    static func motoEnvironment() async throws -> [String: String] {
        let moto = try await MotoServer.start()
        return ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_SQS": moto.endpoint, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"]
    }

    @Test("bench sends and receives every message and reports throughput and CPU per 10,000 as JSON")
    func bench() async throws {
        let environment = try await Self.motoEnvironment()
        let result = try await SpoolProcess.run(["sqs", "bench", "--messages", "120", "--senders", "3", "--receivers", "2", "--json"],
                                                environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        struct Report: Decodable {
            var messages: Int
            var sendPerSecond: Double
            var receivePerSecond: Double
            var sendCPUSecondsPer10k: Double
            var received: Int
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
        // Duplicates are not counted against it: SQS delivers at least once, and moto now and then twice.
        #expect(report.messages == 120 && report.received == 120)
        #expect(report.sendPerSecond > 0 && report.receivePerSecond > 0 && report.sendCPUSecondsPer10k > 0)
    }

    @Test("without credentials it says which variables to set, in one line, and exits 1")
    func noCredentials() async throws {
        let result = try await SpoolProcess.run(["sqs", "bench"], environment: [
            "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "HOME": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
        ])
        #expect(result.status == 1)
        #expect(result.stderr.contains("AWS_ACCESS_KEY_ID") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test("spool status --transport checks each transport given: SQS through moto, an unreachable broker as a failing part with its reason, a malformed one refused by name")
    func statusTransports() async throws {
        let directory = try TemporaryDirectory()
        let store = "sqlite:" + directory.path("spool.db")
        let environment = try await Self.motoEnvironment()
        #expect(try await SpoolProcess.run(["enqueue", "noop", "--store", store]).status == 0, "creates the store")
        let port = try LoopbackSocket.freePort()
        let result = try await SpoolProcess.run(["status", "--store", store, "--json", "--probe-timeout", "1",
                                                 "--transport", "sqs://ignored?region=us-east-1",
                                                 "--transport", "amqp://guest:secret@127.0.0.1:\(port)/"], environment: environment)
        struct Report: Decodable {
            struct Part: Decodable {
                var name: String
                var ok: Bool
                var detail: String
            }
            var parts: [Part]
        }
        let parts = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8)).parts
        let sqs = try #require(parts.first { $0.name == "transport:sqs://ignored?region=us-east-1" }, "\(parts.map(\.name))")
        #expect(sqs.ok, "\(sqs.detail)")
        let amqp = try #require(parts.first { $0.name.hasPrefix("transport:amqp://") }, "\(parts.map(\.name))")
        #expect(!amqp.ok && !amqp.name.contains("secret") && amqp.detail.contains("127.0.0.1"), "\(amqp)")
        #expect(!parts.contains { $0.name == "transport:table-queue" }, "only the transports given")
        #expect(result.status == 1, "a failing part fails the command")

        for (bad, named) in [("sqs://no spaces", "sqs://no spaces"), ("kafka://host", "unknown scheme 'kafka'"), ("sqs://q?color=red", "unknown option 'color'")] {
            let refused = try await SpoolProcess.run(["status", "--store", store, "--transport", bad], environment: environment)
            #expect(refused.status != 0 && refused.stderr.contains(named), "\(bad): \(refused.stderr)")
        }
    }
}
