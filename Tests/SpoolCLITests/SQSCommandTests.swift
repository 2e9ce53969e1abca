import Foundation
import SpoolTestSupport
import Testing

/// `spool sqs bench` against the tests' moto server.
@Suite("spool sqs", .enabled(if: MotoServer.shouldRun, "SPOOL_SKIP_MOTO=1"), .timeLimit(.minutes(3)))
struct SQSCommandTests {
    @Test("bench sends and receives every message and reports throughput and CPU per 10,000 as JSON")
    func bench() async throws {
        let moto = try await MotoServer.start()
        let environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                           "AWS_ENDPOINT_URL_SQS": moto.endpoint, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"]
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
}
