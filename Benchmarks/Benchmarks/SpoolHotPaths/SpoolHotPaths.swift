import Benchmark
import Foundation
import SpoolCore
import SpoolSQLite

/// The hot paths of the embedded store and the payload coding. Every benchmark handles a
/// thousand jobs per iteration (`scalingFactor: .kilo`), so its figures read per thousand jobs:
/// divide the malloc count by 1000 for allocations per job.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        scalingFactor: .kilo,
        maxDuration: .seconds(5),
        maxIterations: 1000)

    Benchmark("enqueue, one call per job") { benchmark in
        let fixture = try Fixture()
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            _ = try await fixture.store.insert([Fixture.job(index)], now: Date())
        }
    }

    Benchmark("enqueue, one bulk call") { benchmark in
        let fixture = try Fixture()
        let jobs = benchmark.scaledIterations.map(Fixture.job)
        benchmark.startMeasurement()
        _ = try await fixture.store.insert(jobs, now: Date())
    }

    Benchmark("claim, batches of 50") { benchmark in
        let fixture = try Fixture()
        _ = try await fixture.store.insert(benchmark.scaledIterations.map(Fixture.job), now: Date())
        benchmark.startMeasurement()
        var claimed = 0
        while claimed < benchmark.scaledIterations.count {
            claimed += try await fixture.store.claim(ClaimParams(dispatcher: fixture.dispatcher, limit: 50, now: Date())).count
        }
    }

    Benchmark("complete, batches of 50") { benchmark in
        let fixture = try Fixture()
        _ = try await fixture.store.insert(benchmark.scaledIterations.map(Fixture.job), now: Date())
        var claimed: [Job] = []
        while claimed.count < benchmark.scaledIterations.count {
            claimed += try await fixture.store.claim(ClaimParams(dispatcher: fixture.dispatcher, limit: 500, now: Date()))
        }
        let finishes = claimed.map { Finish(id: $0.id, dispatcher: fixture.dispatcher, outcome: .completed(result: nil, followUps: [])) }
        benchmark.startMeasurement()
        for start in stride(from: 0, to: finishes.count, by: 50) {
            _ = try await fixture.store.finish(Array(finishes[start..<min(start + 50, finishes.count)]), now: Date())
        }
    }

    Benchmark("payload, encode arguments") { benchmark in
        for index in benchmark.scaledIterations {
            blackHole(try JSONPayload(encoding: Arguments(i: index, pad: Fixture.pad)))
        }
    }

    Benchmark("payload, decode arguments") { benchmark in
        let payload = Fixture.payload(7)
        for _ in benchmark.scaledIterations {
            blackHole(try payload.decode(Arguments.self))
        }
    }

    Benchmark("payload, validate JSON text") { benchmark in
        let text = Fixture.payload(7).text
        for _ in benchmark.scaledIterations {
            blackHole(try JSONPayload(validating: text))
        }
    }
}

/// The W1-W3 payload as a typed job's arguments.
struct Arguments: Codable {
    var i: Int
    var pad: String
}

/// A fresh store file in a temporary directory, removed with the fixture.
final class Fixture {
    static let pad = String(repeating: "x", count: 100)
    let directory: String
    let store: SQLiteStore
    let dispatcher = UUID()

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spool-micro-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try SQLiteStore(path: directory + "/bench.db")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    static func payload(_ index: Int) -> JSONPayload {
        JSONPayload(unchecked: "{\"i\":\(index),\"pad\":\"\(pad)\"}")
    }

    static func job(_ index: Int) -> NewJob {
        NewJob(name: "spool.noop", payload: payload(index))
    }
}
