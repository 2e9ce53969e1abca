import Foundation
import SpoolCore
import SpoolSQLite
import SpoolTestSupport
import Testing

@Suite("spool jobs prune")
struct PruneCommandTests {
    /// Puts jobs that finished `daysAgo` days ago into `store`, in `state`.
    private static func finished(_ count: Int, _ state: JobState, daysAgo: Double, in store: SQLiteStore) async throws {
        let then = Date().addingTimeInterval(-daysAgo * 86_400)
        let jobs = try await store.insert((0..<count).map { _ in NewJob(name: "spool.noop", maxAttempts: 1) }, now: then).map(\.job)
        if state == .cancelled {
            for job in jobs { _ = try await store.cancel(job.id, now: then) }
            return
        }
        let claimed = try await store.claim(ClaimParams(dispatcher: UUID(), limit: count, now: then))
        let error = AttemptError(attempt: 1, name: "Boom", type: "error", message: "failed", at: then)
        _ = try await store.finish(claimed.map { job in
            Finish(id: job.id, dispatcher: job.dispatcher!, outcome: state == .completed ? .completed(result: nil, followUps: []) : .failed(error, retryAt: nil))
        }, now: then)
    }

    @Test("deletes what retention would, counts first with --dry-run, and takes --state and --older-than")
    func prune() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("spool.db")
        let store = try SQLiteStore(path: path)
        try await Self.finished(700, .completed, daysAgo: 2, in: store)
        try await Self.finished(3, .completed, daysAgo: 0.5, in: store)
        try await Self.finished(2, .discarded, daysAgo: 2, in: store)
        try await Self.finished(4, .cancelled, daysAgo: 8, in: store)
        _ = try await store.insert([NewJob(name: "spool.noop")], now: Date())
        func spool(_ arguments: String...) async throws -> SpoolProcess.Result {
            try await SpoolProcess.run(arguments + ["--store", "sqlite:" + path])
        }

        let dry = try await spool("jobs", "prune", "--dry-run")
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout == "would delete 700 completed, 4 cancelled, 0 discarded jobs\n")
        #expect(try await store.queues().first?.counts[.completed] == 703, "a dry run deletes nothing")

        let pruned = try await spool("jobs", "prune")
        #expect(pruned.stdout == "deleted 700 completed, 4 cancelled, 0 discarded jobs\n", "\(pruned.stderr)")
        let counts = try await store.queues().first?.counts ?? [:]
        #expect(counts[.completed] == 3 && counts[.cancelled] == nil && counts[.discarded] == 2 && counts[.available] == 1)

        let discarded = try await spool("jobs", "prune", "--state", "discarded", "--older-than", "1d", "--json")
        #expect(try JSONValue.parse(discarded.stdout) == .object(["discarded": .number(2)]), "\(discarded.stdout)\(discarded.stderr)")
        #expect(try await store.queues().first?.counts[.discarded] == nil)

        let tooYoung = try await spool("jobs", "prune", "--older-than", "10s")
        #expect(tooYoung.status != 0)
        #expect(tooYoung.stderr.contains("must be kept at least 60 s"), "\(tooYoung.stderr)")
        let unfinished = try await spool("jobs", "prune", "--state", "available")
        #expect(unfinished.status != 0)
        #expect(unfinished.stderr.contains("--state must be completed, cancelled or discarded, not 'available'"), "\(unfinished.stderr)")
        #expect(try await store.queues().first?.counts[.completed] == 3, "refusals delete nothing")
    }
}
