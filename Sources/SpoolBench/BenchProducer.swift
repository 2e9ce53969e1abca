import Foundation
import NIOCore
import SpoolCore

/// How one producer of a workload enqueues: straight into the store, or, with `--http`, by
/// `POST /v1/jobs` over a keep-alive connection of its own.
struct BenchProducer: Sendable {
    private let target: BenchTarget
    private let connection: BenchHTTPConnection?

    /// A producer for `target`; over HTTP it opens its connection now.
    static func open(_ target: BenchTarget) async throws -> BenchProducer {
        BenchProducer(target: target, connection: try await target.server?.connect())
    }

    /// `count` producers for `target`.
    static func open(_ target: BenchTarget, count: Int) async throws -> [BenchProducer] {
        var producers: [BenchProducer] = []
        for _ in 0..<count { producers.append(try await open(target)) }
        return producers
    }

    /// Closes every producer's connection.
    static func close(_ producers: [BenchProducer]) async {
        for producer in producers { await producer.close() }
    }

    /// Enqueues `jobs` in one call (one request: the single form for one job, the bulk form
    /// for more) and returns once they are stored.
    func enqueue(_ jobs: [NewJob], now: Date = Date()) async throws {
        guard let connection else {
            _ = try await target.store.insert(jobs, now: now)
            return
        }
        let body = jobs.count == 1 ? BenchProducer.json(jobs[0]) : "{\"jobs\":[" + jobs.map(BenchProducer.json).joined(separator: ",") + "]}"
        try BenchProducer.check(try await connection.request(.POST, "/v1/jobs", json: body))
    }

    /// Enqueues one job, and returns its id.
    func enqueueOne(_ job: NewJob, now: Date) async throws -> JobID {
        guard let connection else { return try await target.store.insert([job], now: now)[0].job.id }
        let response = try await connection.request(.POST, "/v1/jobs", json: BenchProducer.json(job))
        try BenchProducer.check(response)
        return try JSONDecoder().decode(Job.self, from: Data(response.body.readableBytesView)).id
    }

    /// Closes the producer's connection, if it has one.
    func close() async {
        await connection?.close()
    }

    /// The request body of a bench job (a no-op: name, queue and payload only).
    private static func json(_ job: NewJob) -> String {
        "{\"name\":\"\(job.name)\",\"queue\":\"\(job.queue)\",\"payload\":\(job.payload.text)}"
    }

    private static func check(_ response: BenchHTTPConnection.Response) throws {
        guard response.status == 201 else {
            throw BenchFailure("POST /v1/jobs answered \(response.status): \(String(buffer: response.body))")
        }
    }
}

/// A bench run that could not go on, with the reason.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
