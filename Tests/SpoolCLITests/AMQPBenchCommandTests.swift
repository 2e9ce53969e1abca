import Foundation
import SpoolTestSupport
import Testing

/// `spool amqp bench` through the built binary, against the private RabbitMQ (correctness only:
/// speed is measured by bench/amqp, never asserted by a test).
@Suite(.enabled(if: RabbitMQServer.shouldRun, "RabbitMQ is missing and SPOOL_SKIP_RABBITMQ=1"), .timeLimit(.minutes(3)))
struct AMQPBenchCommandTests {
    struct Result: Decodable {
        var client: String
        var messages: Int
        var size: Int
        var publishPerSecond: Double
        var consumePerSecond: Double
    }

    @Test func benchPublishesAndConsumesEveryMessageAndReportsJSON() async throws {
        let url = try await RabbitMQServer.start().url(virtualHost: "spool-cli")
        let run = try await SpoolProcess.run(["amqp", "bench", "--messages", "500", "--size", "64", "--prefetch", "100",
                                              "--window", "200", "--json", "--amqp", url])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try JSONDecoder().decode(Result.self, from: Data(run.stdout.utf8))
        #expect(result.client == "spool")
        #expect(result.messages == 500)
        #expect(result.size == 64)
        #expect(result.publishPerSecond > 0 && result.consumePerSecond > 0)
    }

    @Test func benchRefusesBadOptionsInOneLine() async throws {
        let run = try await SpoolProcess.run(["amqp", "bench", "--prefetch", "1", "--amqp", "amqp://guest:guest@127.0.0.1:1/"])
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("spool: --messages and --window must be at least 1"))
        #expect(run.stderr.split(separator: "\n").count == 1)
    }
}
