import Foundation
import SpoolCore
import SpoolHTTP
import SpoolTestSupport

/// Opens the store a URL names (`sqlite:PATH`, `postgres://…`) with a durability (`normal` or
/// `full`): the command line's own rule, so the bench measures the store a user would get.
public typealias BenchStoreOpener = @Sendable (_ url: String, _ durability: String) async throws -> any JobStore

/// Where one workload runs: a fresh SQLite file in a temporary directory, or the store a URL
/// names. Each workload has a queue of its own, so runs on a shared store never count each
/// other's jobs. With HTTP the workload's jobs go in through a `spool serve` in this process on
/// the same store.
public struct BenchTarget: Sendable {
    let store: any JobStore
    /// The store URL another process opens to reach the same store.
    let url: String
    let durability: String
    let queue: String
    /// A scratch directory for files of the run (the fresh store, a worker's journal).
    let folder: TemporaryDirectory
    /// The HTTP server producers enqueue through, with HTTP.
    let server: BenchServer?
    /// The `spool` executable separate worker processes run.
    let executable: String
    /// With `--http-jobs`: the no-op worker app's process and the URL every job calls.
    let app: (process: ChildProcess, url: URL)?

    /// Opens the target of `workload`: the store at `url`, or a fresh SQLite file when `nil`;
    /// `executable` is the `spool` binary separate workers are started from.
    /// With `httpJobs` every job is a `spool.http` call of a no-op worker app started for the
    /// workload (``NoopWorkerApp``).
    public static func open(store url: String?, durability: String, workload: String, http: Bool, httpJobs: Bool = false,
                            executable: String, opener: BenchStoreOpener) async throws -> BenchTarget {
        let folder = try TemporaryDirectory()
        let queue = "bench-\(workload)-\(UUID().uuidString.prefix(8).lowercased())"
        let url = url ?? "sqlite:" + folder.path("bench.db")
        let store = try await opener(url, durability)
        let server = http ? try await BenchServer.start(store: store) : nil
        var app: (ChildProcess, URL)?
        if httpJobs {
            NoopWorkerApp.ensureSecret()
            app = try await NoopWorkerApp.start(executable: executable, folder: folder)
        }
        return BenchTarget(store: store, url: url, durability: durability, queue: queue, folder: folder, server: server,
                           executable: executable, app: app)
    }

    /// The store, when it serves calls best from a place of its own (``SpoolCore/AffineStore``)
    /// and the workload calls it directly (not over HTTP).
    var affineStore: (any AffineStore)? {
        server == nil ? store as? any AffineStore : nil
    }

    /// Stops the HTTP server and the worker app, if any, and waits for the store's background
    /// work to settle before the next workload starts.
    public func close() async throws {
        await server?.stop()
        if let app {
            app.process.terminate()
            _ = await app.process.waitForExit()
        }
        _ = try await store.queues()
    }

    /// How many jobs of this workload's queue the store holds in each state.
    public func counts() async throws -> [JobState: Int] {
        try await store.queues().first { $0.name == queue }?.counts ?? [:]
    }

    /// The bytes the store takes on disk, for an SQLite store (its file, log and shared memory);
    /// `nil` for another store.
    func bytesOnDisk() -> Int64? {
        guard url.hasPrefix("sqlite:") else { return nil }
        let path = String(url.dropFirst("sqlite:".count))
        return ["", "-wal", "-shm"].reduce(Int64(0)) { sum, suffix in
            sum + ((try? FileManager.default.attributesOfItem(atPath: path + suffix)[.size] as? NSNumber)?.int64Value ?? 0)
        }
    }

    /// The total number of jobs in this workload's queue.
    func stored() async throws -> Int {
        try await counts().values.reduce(0, +)
    }

    /// The W1–W3 job: a no-op with the payload `{"i": n, "pad": 100 × "x"}`.
    func newJob(_ index: Int) -> NewJob {
        guard let app else { return NewJob(name: "spool.noop", payload: BenchTarget.payload(index), queue: queue) }
        let request = "{\"method\":\"POST\",\"url\":\"\(app.url.absoluteString)\",\"body\":\"{\\\"i\\\":\(index)}\",\"headers\":{\"Content-Type\":\"application/json\"}}"
        return NewJob(name: HTTPJobs.name, payload: JSONPayload(unchecked: request), queue: queue)
    }

    static func payload(_ index: Int) -> JSONPayload {
        JSONPayload(unchecked: "{\"i\":\(index),\"pad\":\"\(pad)\"}")
    }

    private static let pad = String(repeating: "x", count: 100)
}
