import Foundation
import SpoolCore

/// One named check of the ``JobStore`` contract.
public struct StoreConformanceCase: Sendable, CustomStringConvertible {
    /// What the case checks.
    public let name: String
    /// Runs the check against a fresh, empty store.
    public let run: @Sendable (any JobStore) async throws -> Void

    /// Creates a case.
    public init(_ name: String, _ run: @escaping @Sendable (any JobStore) async throws -> Void) {
        self.name = name
        self.run = run
    }

    public var description: String { name }
}

/// The store conformance suite: every store runs these cases, unchanged, each on a fresh store.
///
/// ```swift
/// @Test(arguments: StoreConformance.cases)
/// func conformance(_ check: StoreConformanceCase) async throws {
///     try await check.run(try makeFreshStore())
/// }
/// ```
public enum StoreConformance {
    /// Every case of the suite.
    public static let cases: [StoreConformanceCase] = jobCases + claimCases + finishCases + queueCases + quotaCases + dispatcherCases
        + cronCases + eventCases + retentionCases + countCases

    /// A fixed starting time, so that cases control the clock.
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static let dispatcherA = UUID(uuidString: "00000000-0000-4000-8000-00000000000a")!
    static let dispatcherB = UUID(uuidString: "00000000-0000-4000-8000-00000000000b")!

    static func claim(_ store: any JobStore, limit: Int = 10, at now: Date = t0, by dispatcher: UUID = dispatcherA,
                      queues: [String]? = nil, policy: AgentPolicy = .fifo, filter: JobFilter = .any,
                      lease: Duration = .seconds(30)) async throws -> [Job] {
        try await store.claim(ClaimParams(dispatcher: dispatcher, queues: queues, limit: limit, policy: policy,
                                          filter: filter, now: now, lease: lease))
    }

    @discardableResult
    static func put(_ store: any JobStore, _ name: String = "spool.noop", at now: Date = t0,
                    _ configure: (inout NewJob) -> Void = { _ in }) async throws -> Job {
        var new = NewJob(name: name)
        configure(&new)
        return try await store.insert([new], now: now)[0].job
    }

    static func fetch(_ store: any JobStore, _ id: JobID) async throws -> Job {
        guard let job = try await store.job(id) else { throw ConformanceFailure("job \(id) vanished from the store") }
        return job
    }

    static func complete(_ store: any JobStore, _ job: Job, by dispatcher: UUID = dispatcherA, at now: Date = t0,
                         result: JSONPayload? = nil, followUps: [NewJob] = []) async throws -> Bool {
        try await store.finish([Finish(id: job.id, dispatcher: dispatcher,
                                       outcome: .completed(result: result, followUps: followUps))], now: now)[0]
    }

    static func register(_ store: any JobStore, _ id: UUID = dispatcherA, host: String = "test-host", at now: Date = t0) async throws -> [Job] {
        try await store.register(DispatcherRegistration(id: id, host: host, pid: 1,
                                                        agents: [AgentInfo(name: "main", filter: "*", size: 3, policy: .fifo)],
                                                        now: now))
    }
}

/// A broken promise of the contract, with what was expected and what happened.
public struct ConformanceFailure: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    /// Creates a failure.
    public init(_ description: String) { self.description = description }
}

/// Throws a ``ConformanceFailure`` unless `condition` holds.
public func expect(_ condition: Bool, _ message: @autoclosure () -> String,
                   file: StaticString = #fileID, line: UInt = #line) throws {
    if !condition { throw ConformanceFailure("\(file):\(line): \(message())") }
}

/// Throws a ``ConformanceFailure`` unless `actual == expected`.
public func expectEqual<T: Equatable>(_ actual: T, _ expected: T, _ message: @autoclosure () -> String = "",
                                      file: StaticString = #fileID, line: UInt = #line) throws {
    if actual != expected {
        throw ConformanceFailure("\(file):\(line): \(message()) expected \(expected), got \(actual)")
    }
}

/// Runs `body`, expecting it to throw a ``SpoolError`` with `code`; returns the error.
@discardableResult
public func expectSpoolError<T>(_ code: SpoolError.Code, file: StaticString = #fileID, line: UInt = #line,
                                _ body: () async throws -> T) async throws -> SpoolError {
    do {
        let value = try await body()
        throw ConformanceFailure("\(file):\(line): expected error \(code), got \(value)")
    } catch let error as SpoolError {
        try expectEqual(error.code, code, "error \(error)", file: file, line: line)
        return error
    }
}
