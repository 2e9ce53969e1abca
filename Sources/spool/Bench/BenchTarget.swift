import Foundation
import SpoolCore
import SpoolSQLite

/// Where one workload runs: a fresh SQLite file in a temporary directory, or the store the
/// options name. Each workload has a queue of its own, so runs on a shared store never count
/// each other's jobs. With `--http` the workload's jobs go in through a `spool serve` in this
/// process on the same store.
struct BenchTarget: Sendable {
    let store: any JobStore
    /// The store URL another process opens to reach the same store.
    let url: String
    let durability: String
    let queue: String
    /// A scratch directory for files of the run (the fresh store, a worker's journal).
    let folder: TemporaryFolder
    /// The HTTP server producers enqueue through, with `--http`.
    let server: BenchServer?

    static func open(options: StoreOptions, workload: String, http: Bool) async throws -> BenchTarget {
        let folder = try TemporaryFolder()
        let queue = "bench-\(workload)-\(UUID().uuidString.prefix(8).lowercased())"
        var options = options
        if options.store == nil { options.store = "sqlite:" + folder.path + "/bench.db" }
        let store = try await options.open()
        let server = http ? try await BenchServer.start(store: store) : nil
        return BenchTarget(store: store, url: options.storeURL, durability: options.durability, queue: queue, folder: folder,
                           server: server)
    }

    /// Stops the HTTP server, if any, and waits for the store's background work to settle
    /// before the next workload starts.
    func close() async throws {
        await server?.stop()
        _ = try await store.queues()
    }

    /// How many jobs of this workload's queue the store holds in each state.
    func counts() async throws -> [JobState: Int] {
        try await store.queues().first { $0.name == queue }?.counts ?? [:]
    }

    /// The total number of jobs in this workload's queue.
    func stored() async throws -> Int {
        try await counts().values.reduce(0, +)
    }

    /// The W1–W3 job: a no-op with the payload `{"i": n, "pad": 100 × "x"}`.
    func newJob(_ index: Int) -> NewJob {
        NewJob(name: "spool.noop", payload: BenchTarget.payload(index), queue: queue)
    }

    static func payload(_ index: Int) -> JSONPayload {
        JSONPayload(unchecked: "{\"i\":\(index),\"pad\":\"\(pad)\"}")
    }

    private static let pad = String(repeating: "x", count: 100)
}

/// A directory removed when released.
final class TemporaryFolder: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("spool-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
