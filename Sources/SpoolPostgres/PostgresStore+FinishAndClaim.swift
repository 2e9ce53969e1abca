import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    public func finishAndClaim(_ finishes: [Finish], claims: [ClaimParams], now: Date) async throws -> (applied: [Bool], claimed: [[Job]]) {
        guard finishes.allSatisfy(PostgresStore.isPlain), let first = claims.first, PostgresStore.takesLeadingClaim(first) else {
            let applied = try await finish(finishes, now: now)
            var claimed: [[Job]] = []
            for params in claims { claimed.append(try await claim(params)) }
            return (applied, claimed)
        }
        let now = PostgresRows.truncate(now)
        let completions = PlainCompletions(finishes)
        let logger = self.logger
        let step = try await read { connection in
            try await PostgresStore.finishAndClaim(completions, finishedAt: now, claim: first, on: connection, logger: logger)
        }
        let applied = completions.applied(step.completed)
        publishFinished(finishes, applied: applied, now: now)
        var claimed = [try await claimRest(first, after: step)]
        for params in claims.dropFirst() { claimed.append(try await claim(params)) }
        return (applied, claimed)
    }

    /// Whether `params` can be claimed by the store function's common claim: any number of
    /// queues, no agent filter.
    static func takesLeadingClaim(_ params: ClaimParams) -> Bool {
        params.limit > 0 && params.filter.isUnfiltered
    }

    /// What one call of `spool_finish_and_claim` did.
    struct Step: Sendable {
        /// The ids whose completion applied.
        var completed: Set<String>
        /// The jobs claimed, in policy order.
        var jobs: [Job]
        /// Whether a full claim must look further: a job that names a quota stopped the claim.
        var maybeMore: Bool
    }

    /// Records `completions` and makes the common claim `claim` in one call of the store's
    /// function (``PostgresSchema/finishAndClaimFunction``), a prepared statement on a pooled
    /// connection outside an explicit transaction.
    static func finishAndClaim(_ completions: PlainCompletions, finishedAt: Date, claim: ClaimParams?, on connection: PostgresConnection,
                               logger: Logger) async throws -> Step {
        var binds = PostgresBindings()
        binds.append(PostgresRows.micros(finishedAt))
        completions.bind(to: &binds)
        if let claim {
            let now = PostgresRows.truncate(claim.now)
            binds.append(PostgresRows.micros(now))
            binds.append(Int64(claim.limit))
            binds.append(claim.dispatcher)
            binds.append(PostgresRows.micros(PostgresRows.truncate(now.addingTimeInterval(claim.lease.seconds))))
            binds.append(claim.queues)
            binds.append(claim.policy == .priority)
        } else {
            binds.append(Int64(0))
            binds.append(Int64(0))
            binds.append(Optional<UUID>.none)
            binds.append(Int64(0))
            binds.append(Optional<[String]>.none)
            binds.append(false)
        }
        let rows = try await connection.rows(FinishAndClaimStatement.self, binds, logger: logger)
        guard let header = rows.first else { throw SpoolError(.storeCorrupt, "spool_finish_and_claim answered no rows") }
        var claimed = try rows.dropFirst().map { (job: try PostgresRows.job($0), seq: try PostgresRows.seq($0)) }
        if claim?.policy == .priority {
            claimed.sort { ($0.job.priority, $0.job.runAt, $0.seq) < ($1.job.priority, $1.job.runAt, $1.seq) }
        } else {
            claimed.sort { ($0.job.runAt, $0.seq) < ($1.job.runAt, $1.seq) }
        }
        let pageCount = try header[22].decode(Int.self)
        return Step(completed: Set(try header[23].decode([String].self)), jobs: claimed.map(\.job), maybeMore: pageCount > claimed.count)
    }

    /// The jobs of `step`'s claim for `params`, and those a full claim finds for the slots left
    /// when a job that names a quota stopped it.
    func claimRest(_ params: ClaimParams, after step: Step) async throws -> [Job] {
        guard step.maybeMore, step.jobs.count < params.limit else { return step.jobs }
        var remaining = params
        remaining.limit -= step.jobs.count
        return step.jobs + (try await fullClaim(remaining))
    }

    /// The full claim (``claim(_:now:schema:on:logger:)``) in a transaction of its own.
    func fullClaim(_ params: ClaimParams) async throws -> [Job] {
        let (now, schema, logger) = (PostgresRows.truncate(params.now), self.schema, self.logger)
        return try await transaction { connection in
            try await PostgresStore.claim(params, now: now, schema: schema, on: connection, logger: logger)
        }
    }
}

/// The plain completions (``PostgresStore/isPlain(_:)``) among a batch of finishes, as the
/// arrays the store's statements take.
struct PlainCompletions: Sendable {
    private var positions: [Int] = []
    private var ids: [String] = [], dispatchers: [UUID] = [], results: [String] = [], hasResult: [Bool] = []
    private let total: Int

    /// No completions.
    static let none = PlainCompletions([])

    init(_ finishes: [Finish]) {
        total = finishes.count
        for (position, finish) in finishes.enumerated() {
            guard PostgresStore.isPlain(finish), case .completed(let result, _) = finish.outcome else { continue }
            positions.append(position)
            ids.append(finish.id.description)
            dispatchers.append(finish.dispatcher)
            results.append(result?.text ?? "")
            hasResult.append(result != nil)
        }
    }

    var isEmpty: Bool { ids.isEmpty }

    /// Appends the ids, dispatchers, results and whether each has a result.
    func bind(to binds: inout PostgresBindings) {
        binds.append(ids)
        binds.append(dispatchers)
        binds.append(results)
        binds.append(hasResult)
    }

    /// For every finish of the batch, whether it is a plain completion whose id is in `completed`.
    func applied(_ completed: Set<String>) -> [Bool] {
        var applied = Array(repeating: false, count: total)
        for (position, id) in zip(positions, ids) { applied[position] = completed.contains(id) }
        return applied
    }
}
