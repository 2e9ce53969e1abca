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

    @Test("spool bench soak: a separate worker with retention drains every job; the report gives the rate per tenth, the store's size, the worker's memory and the dashboard's refreshes")
    func soak() async throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("soak.json")
        let run = try await SpoolProcess.run(["bench", "soak", "--jobs", "3000", "--concurrency", "8", "--output", output])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("soak: drain rate per tenth of the jobs") && run.stdout.contains("  100%: "), "\(run.stdout)")
        #expect(run.stdout.contains("soak: store on disk start ") && run.stdout.contains("soak: workers' resident memory start "), "\(run.stdout)")
        #expect(!run.stdout.contains("resident memory start 0.0 MB"), "the worker's memory was read: \(run.stdout)")
        #expect(run.stdout.contains("soak: retention deleted 0 completed jobs") && run.stdout.contains("3000 kept at the end"),
                "nothing is a minute old yet: \(run.stdout)")
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(report.results.map(\.workload) == ["soak", "soak-dashboard"])
        #expect(report.results.first.map { $0.jobs == 3000 && $0.lost == 0 } == true, "\(report.results)")
        #expect((report.results.last?.jobs ?? 0) >= 1, "the dashboard was refreshed during the drain")
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

    @Test("w2 with --workers drains with separate worker processes sharing the concurrency")
    func drainWithWorkerProcesses() async throws {
        let directory = try TemporaryDirectory()
        let store = "sqlite:" + directory.path("spool.db")
        let run = try await SpoolProcess.run(["bench", "w2", "--jobs", "400", "--concurrency", "6", "--workers", "3", "--store", store, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
        #expect(report.results.map(\.workload) == ["w2"])
        #expect(report.results.first.map { $0.jobs == 400 && $0.lost == 0 && $0.duplicated == 0 && $0.perSecond > 0 } == true)
        let dispatchers = try await SpoolProcess.run(["dispatchers", "--store", store, "--json"])
        #expect(dispatchers.stdout.components(separatedBy: "\"pid\"").count - 1 == 3, "three worker processes ran: \(dispatchers.stdout)")
        let refused = try await SpoolProcess.run(["bench", "w2", "--concurrency", "2", "--workers", "3"])
        #expect(refused.status != 0 && refused.stderr.contains("--workers"), "\(refused.stderr)")
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

    @Test("over HTTP every workload enqueues through a server on the same store, and the drain reports dashboard refreshes")
    func overHTTP() async throws {
        let directory = try TemporaryDirectory()
        let store = "sqlite:" + directory.path("spool.db")
        let output = directory.path("bench.json")
        let run = try await SpoolProcess.run(["bench", "all", "--http", "--jobs", "300", "--batch", "70", "--concurrency", "8",
                                              "--producers", "4", "--rate", "50", "--duration", "1", "--store", store, "--output", output])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("over HTTP (70 jobs per bulk request)"))
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(report.results.map(\.workload) == ["w1-single", "w1-bulk", "w2", "w2-dashboard", "w3", "w3-process"])
        #expect(report.results.allSatisfy { $0.lost == 0 && $0.duplicated == 0 })
        #expect(report.results.first { $0.workload == "w2-dashboard" }.map { $0.jobs > 0 && $0.latency != nil } == true)
        let queues = try await SpoolProcess.run(["queues", "list", "--store", store, "--json"])
        struct Queue: Decodable { var name: String; var counts: [String: Int] }
        let listed = try JSONDecoder().decode([Queue].self, from: Data(queues.stdout.utf8))
        #expect(listed.filter { $0.name.hasPrefix("bench-w1-") }.map { $0.counts["available"] ?? 0 } == [300, 300])
        #expect(listed.first { $0.name.hasPrefix("bench-w2-") }?.counts["completed"] == 300)
    }

    @Test("bad bench options are refused with one clear line")
    func badOptions() async throws {
        let run = try await SpoolProcess.run(["bench", "w3", "--rate", "0"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("--rate"))
        let batch = try await SpoolProcess.run(["bench", "w1", "--http", "--batch", "0"])
        #expect(batch.status != 0)
        #expect(batch.stderr.contains("--batch"))
    }
}
