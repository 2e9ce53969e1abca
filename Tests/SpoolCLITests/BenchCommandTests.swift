import Foundation
import SpoolTestSupport
import Testing

@Suite("spool bench")
struct BenchCommandTests {
    struct Report: Decodable {
        struct Result: Decodable {
            struct Latency: Decodable { var p50: Double; var p99: Double; var max: Double }
            var workload: String
            var jobs: Int
            var lost: Int
            var duplicated: Int
            var perSecond: Double
            var latency: Latency?
        }

        var results: [Result]
    }

    @Test("every workload runs on a fresh store, in process and with a separate worker, and reports no loss")
    func allWorkloads() async throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("bench.json")
        let run = try await SpoolProcess.run(["bench", "all", "--jobs", "300", "--concurrency", "8", "--producers", "4",
                                              "--rate", "50", "--duration", "1", "--output", output])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("every job ran exactly once"))
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(report.results.map(\.workload) == ["w1-single", "w1-bulk", "w2", "w3", "w3-process"])
        for result in report.results {
            #expect(result.lost == 0 && result.duplicated == 0, "\(result.workload)")
            #expect(result.perSecond > 0, "\(result.workload)")
        }
        #expect(report.results.filter { $0.workload.hasPrefix("w3") }.allSatisfy { $0.jobs == 50 && $0.latency.map { $0.p50 > 0 && $0.max >= $0.p99 } == true })
    }

    @Test("bench on a given store keeps each workload in its own queue and prints JSON")
    func givenStore() async throws {
        let directory = try TemporaryDirectory()
        let store = "sqlite:" + directory.path("spool.db")
        let run = try await SpoolProcess.run(["bench", "w1", "--jobs", "120", "--store", store, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
        #expect(report.results.map(\.jobs) == [120, 120])
        let queues = try await SpoolProcess.run(["queues", "list", "--store", store, "--json"])
        struct Queue: Decodable { var name: String; var counts: [String: Int] }
        let listed = try JSONDecoder().decode([Queue].self, from: Data(queues.stdout.utf8))
        #expect(listed.count == 2 && listed.allSatisfy { $0.name.hasPrefix("bench-w1-") && $0.counts["available"] == 120 })
    }

    @Test("bad bench options are refused with one clear line")
    func badOptions() async throws {
        let run = try await SpoolProcess.run(["bench", "w3", "--rate", "0"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("--rate"))
    }
}
