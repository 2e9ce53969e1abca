import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    public func finish(_ finishes: [Finish], now: Date) async throws -> [Bool] {
        let now = PostgresRows.truncate(now)
        let (schema, logger, limits) = (self.schema, self.logger, self.limits)
        let applied: [Bool], followUps: [InsertResult]
        if finishes.allSatisfy(PostgresStore.isPlain) {
            // One call of the store's function, atomic without an explicit transaction.
            let completions = PlainCompletions(finishes)
            (applied, followUps) = (completions.applied(try await read { connection in
                try await PostgresStore.finishAndClaim(completions, finishedAt: now, claim: nil, on: connection, logger: logger)
            }.completed), [])
        } else {
            (applied, followUps) = try await transaction { connection in
                try await PostgresStore.finish(finishes, now: now, limits: limits, schema: schema, on: connection, logger: logger)
            }
        }
        publishFinished(finishes, applied: applied, now: now)
        publishAvailable(followUps)
        return applied
    }

    public func finishAndClaim(_ finishes: [Finish], claims: [ClaimParams], now: Date) async throws -> (applied: [Bool], claimed: [[Job]]) {
        guard finishes.allSatisfy(PostgresStore.isPlain), let first = claims.first, PostgresStore.takesLeadingClaim(first) else {
            let applied = try await finish(finishes, now: now)
            var claimed: [[Job]] = []
            for params in claims { claimed.append(try await claim(params)) }
            return (applied, claimed)
        }
        let now = PostgresRows.truncate(now)
        let completions = PlainCompletions(finishes)
        let (logger, floor) = (self.logger, claimFloors.floor(for: first))
        let step = try await read { connection in
            try await PostgresStore.finishAndClaim(completions, finishedAt: now, claim: first, floor: floor, on: connection, logger: logger)
        }
        claimFloors.record(first: step.first, for: first, from: floor)
        let applied = completions.applied(step.completed)
        publishFinished(finishes, applied: applied, now: now)
        var claimed = [try await claimRest(first, after: step)]
        for params in claims.dropFirst() { claimed.append(try await claim(params)) }
        return (applied, claimed)
    }

    /// Announces the jobs whose finish applied, with their new states.
    func publishFinished(_ finishes: [Finish], applied: [Bool], now: Date) {
        guard events.hasSubscribers(to: .jobsFinished) else { return }
        var finished: [JobID: JobState] = [:]
        for (finish, didApply) in zip(finishes, applied) where didApply { finished[finish.id] = finish.outcome.state(now: now) }
        if !finished.isEmpty { events.publish(.jobsFinished(finished)) }
    }

    /// Applies each finish while its job is running and held by the finishing dispatcher, all in
    /// the caller's transaction; returns which applied and the follow-up jobs inserted.
    static func finish(_ finishes: [Finish], now: Date, limits: JobLimits, schema: PostgresSchema,
                       on connection: PostgresConnection, logger: Logger) async throws -> ([Bool], [InsertResult]) {
        let nowMicros = PostgresRows.micros(now)
        var applied = try await completePlain(finishes, nowMicros: nowMicros, schema: schema, on: connection, logger: logger)
        var followUpResults: [InsertResult] = []
        for (index, finish) in finishes.enumerated() where !isPlain(finish) {
            let key = "ARRAY[\(finish.id.sequenceKey)::bigint]"
            let held = "\(schema.keyed(keys: key, ids: "ARRAY[$1::text]")) AND state = 'running' AND dispatcher = $2"
            var binds = PostgresBindings()
            binds.append(finish.id.description)
            binds.append(finish.dispatcher)
            let sql: String
            switch finish.outcome {
            case .completed(let result, _):
                binds.append(result?.text)
                binds.append(nowMicros)
                sql = """
                    UPDATE \(schema.jobs) SET state = 'completed', result = $3, finished_at = $4, lease_until = NULL,
                        cancel_requested = false
                    WHERE \(held) RETURNING 1
                    """
            case .failed(let error, let retryAt):
                binds.append(retryAt == nil ? "discarded" : "retryable")
                binds.append(retryAt.map(PostgresRows.micros))
                binds.append(retryAt == nil ? nowMicros : nil)
                binds.append(PostgresRows.text(error))
                sql = failSQL(schema: schema, held: held)
            case .cancelled(let error):
                binds.append("cancelled")
                binds.append(Optional<Int64>.none)
                binds.append(nowMicros)
                binds.append(PostgresRows.text(error))
                sql = failSQL(schema: schema, held: held)
            case .snoozed(let until):
                binds.append(until > now ? "scheduled" : "available")
                binds.append(PostgresRows.micros(until))
                sql = """
                    UPDATE \(schema.jobs) SET state = $3, run_at = $4, attempt = GREATEST(attempt - 1, 0), lease_until = NULL,
                        cancel_requested = false
                    WHERE \(held) RETURNING 1
                    """
            }
            let didApply = try await connection.count(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) == 1
            applied[index] = didApply
            guard didApply else { continue }
            try await connection.query("DELETE FROM \(unescaped: schema.quotaHolders) WHERE job_id = \(finish.id.description)",
                                       logger: logger)
            if case .completed(_, let followUps) = finish.outcome, !followUps.isEmpty {
                followUpResults += try await insertFollowUps(followUps, of: finish.id, now: now, limits: limits, schema: schema,
                                                             on: connection, logger: logger)
            }
        }
        var ended: [JobID: JobState] = [:]
        for (finish, didApply) in zip(finishes, applied) where didApply { ended[finish.id] = finish.outcome.state(now: now) }
        try await announceEnds(ended, now: now, schema: schema, on: connection, logger: logger)
        return (applied, followUpResults)
    }

    /// Whether `finish` is a completion without follow-up jobs: the common case, recorded for
    /// a whole batch in one statement.
    static func isPlain(_ finish: Finish) -> Bool {
        if case .completed(_, let followUps) = finish.outcome { return followUps.isEmpty }
        return false
    }

    /// Records every plain completion among `finishes` in one statement that also frees their
    /// quota slots, in the caller's transaction; returns, for every finish, whether it was a
    /// plain completion that applied.
    static func completePlain(_ finishes: [Finish], nowMicros: Int64, schema: PostgresSchema, on connection: PostgresConnection,
                              logger: Logger) async throws -> [Bool] {
        let completions = PlainCompletions(finishes)
        guard !completions.isEmpty else { return Array(repeating: false, count: finishes.count) }
        var binds = PostgresBindings()
        binds.append(nowMicros)
        completions.bind(to: &binds)
        completions.bindKeys(to: &binds)
        let rows = try await connection.rows(PostgresQuery(unsafeSQL: completeSQL(schema), binds: binds), logger: logger)
        return completions.applied(.only(Set(try rows.map { try $0[0].decode(String.self) })))
    }

    /// The statement behind ``completePlain(_:nowMicros:schema:on:logger:)``; its
    /// parameters are now, and arrays of the ids, dispatchers, results, whether each has one, and
    /// the jobs' keys. Each completion is joined with its job by key and id (a job stored before
    /// migration 14 by the number its id's index gives).
    static func completeSQL(_ schema: PostgresSchema) -> String {
        """
        WITH done AS (
            UPDATE \(schema.jobs) AS j SET state = 'completed', result = CASE WHEN v.has_result THEN v.result END,
                finished_at = $1::bigint, lease_until = NULL, cancel_requested = false
            FROM (SELECT v.id, v.dispatcher, v.result, v.has_result,
                         coalesce((\(schema.legacyLookup("= v.id"))), v.key) AS seq
                  FROM unnest($2::text[], $3::uuid[], $4::text[], $5::boolean[], $6::bigint[]) AS v(id, dispatcher, result, has_result, key)) AS v
            WHERE j.seq = v.seq AND j.id = v.id AND j.state = 'running' AND j.dispatcher = v.dispatcher
            RETURNING j.id),
        freed AS (DELETE FROM \(schema.quotaHolders) WHERE job_id IN (SELECT id FROM done))
        SELECT id FROM done
        """
    }

    private static func failSQL(schema: PostgresSchema, held: String) -> String {
        """
        UPDATE \(schema.jobs) SET state = $3, run_at = COALESCE($4, run_at), finished_at = $5, lease_until = NULL,
            cancel_requested = false, errors = array_append(errors, $6)
        WHERE \(held) RETURNING 1
        """
    }

    /// Inserts a completed job's follow-ups in a savepoint; when they are refused, the job is
    /// discarded with the reason instead.
    private static func insertFollowUps(_ followUps: [NewJob], of id: JobID, now: Date, limits: JobLimits, schema: PostgresSchema,
                                        on connection: PostgresConnection, logger: Logger) async throws -> [InsertResult] {
        try await connection.query("SAVEPOINT spool_follow_ups", logger: logger)
        do {
            for new in followUps { try new.validate(limits) }
            let results = try await insert(followUps, now: now, schema: schema, prepared: false, on: connection, logger: logger)
            try await connection.query("RELEASE SAVEPOINT spool_follow_ups", logger: logger)
            return results
        } catch {
            try await connection.query("ROLLBACK TO SAVEPOINT spool_follow_ups", logger: logger)
            let attempt = try await connection.query("SELECT attempt FROM \(unescaped: schema.jobs) WHERE \(job: id, of: schema)",
                                                     logger: logger).decode(Int.self).first { _ in true } ?? 0
            let record = AttemptError(attempt: attempt, name: "FollowUpRejected", type: "error",
                                      message: "follow-up jobs were refused: \(error)", at: now)
            try await connection.query("""
                UPDATE \(unescaped: schema.jobs) SET state = 'discarded', result = NULL, errors = array_append(errors, \(PostgresRows.text(record)))
                WHERE \(job: id, of: schema)
                """, logger: logger)
            return []
        }
    }

    /// What one call of `spool_dispatcher_step` did.
    struct Step: Sendable {
        /// The completions that applied.
        var completed: AppliedCompletions
        /// The jobs claimed, in policy order.
        var jobs: [Job]
        /// Whether a full claim must look further: a job that names a quota stopped the claim.
        var maybeMore: Bool
        /// The policy-order key of the first job claimed (``ClaimFloors``), if any.
        var first: [Int64]?
    }

    /// Records `completions` and makes the common claim `claim` in one call of the store's
    /// function (``PostgresSchema/finishAndClaimFunction``), a prepared statement on a pooled
    /// connection outside an explicit transaction. The claim's page begins at `floor` (a key in
    /// its policy order, ``ClaimFloors``) while it fills from there, and otherwise at the front.
    static func finishAndClaim(_ completions: PlainCompletions, finishedAt: Date, claim: ClaimParams?, floor: [Int64]? = nil,
                               on connection: PostgresConnection, logger: Logger) async throws -> Step {
        var binds = PostgresBindings()
        binds.append(PostgresRows.micros(finishedAt))
        completions.bind(to: &binds, compact: true)
        let fields = claim.map(ClaimedFields.init)
        if let claim, let fields {
            binds.append(PostgresRows.micros(fields.startedAt))
            binds.append(Int64(claim.limit))
            binds.append(claim.dispatcher)
            binds.append(PostgresRows.micros(fields.leaseExpiresAt))
            binds.append(claim.queues)
            binds.append(claim.policy == .priority)
            binds.append(floor)
        } else {
            binds.append(Int64(0))
            binds.append(Int64(0))
            binds.append(Optional<UUID>.none)
            binds.append(Int64(0))
            binds.append(Optional<[String]>.none)
            binds.append(false)
            binds.append(Optional<[Int64]>.none)
        }
        completions.bindKeys(to: &binds)
        let rows = try await connection.rows(DispatcherStepStatement.self, binds, logger: logger)
        guard let header = rows.first else { throw SpoolError(.storeCorrupt, "spool_dispatcher_step answered no rows") }
        let byPriority = claim?.policy == .priority, layout = JobRowLayout.claimed
        var claimed = try rows.dropFirst().map {
            (job: try PostgresRows.job($0, claimed: fields), key: try PostgresRows.claimKey($0, byPriority: byPriority, layout))
        }
        claimed.sort { $0.key < $1.key }
        let pageCount = try header[layout.count].decode(Int.self)
        let completed = header[layout.count + 1]
        return Step(completed: PostgresRows.arrayCount(completed) == completions.count ? .all : .only(Set(try completed.decode([String].self))),
                    jobs: claimed.map(\.job),
                    maybeMore: pageCount > claimed.count, first: claimed.first?.key.values)
    }
}

/// The plain completions (``PostgresStore/isPlain(_:)``) among a batch of finishes, as the
/// arrays the store's statements take.
struct PlainCompletions: Sendable {
    private var positions: [Int] = []
    private var ids: [JobID] = [], dispatchers: [UUID] = [], results: [String] = [], hasResult: [Bool] = []
    /// Whether every completion is of one dispatcher and has no result, as a busy worker's are.
    private var uniform = true
    private let total: Int

    /// No completions.
    static let none = PlainCompletions([])

    init(_ finishes: [Finish]) {
        total = finishes.count
        for (position, finish) in finishes.enumerated() {
            guard PostgresStore.isPlain(finish), case .completed(let result, _) = finish.outcome else { continue }
            positions.append(position)
            ids.append(finish.id)
            dispatchers.append(finish.dispatcher)
            results.append(result?.text ?? "")
            hasResult.append(result != nil)
            uniform = uniform && result == nil && finish.dispatcher == dispatchers[0]
        }
    }

    var isEmpty: Bool { ids.isEmpty }

    /// How many plain completions there are.
    var count: Int { ids.count }

    /// Appends the ids, dispatchers, results and whether each has a result. For the store
    /// function (`compact`), completions of one dispatcher without results name the dispatcher
    /// once and send no results: the function's plain path
    /// (``PostgresSchema/finishAndClaimFunction(announcingEnds:tracing:plainCompletions:claimFloor:keyed:byKeyOnly:narrow:)``)
    /// takes them so, and the server reads only the ids and the keys at the batch's length.
    func bind(to binds: inout PostgresBindings, compact: Bool = false) {
        binds.append(JobIDTexts(ids))
        if compact, uniform, let dispatcher = dispatchers.first {
            binds.append([dispatcher])
            binds.append([String]())
            binds.append([Bool]())
        } else {
            binds.append(dispatchers)
            binds.append(results)
            binds.append(hasResult)
        }
    }

    /// Appends the jobs' keys (``SpoolCore/JobID/sequenceKey``), in the order of their ids.
    func bindKeys(to binds: inout PostgresBindings) {
        binds.append(ids.map(\.sequenceKey))
    }

    /// For every finish of the batch, whether it is a plain completion that `completed` names.
    func applied(_ completed: AppliedCompletions) -> [Bool] {
        var applied = Array(repeating: false, count: total)
        switch completed {
        case .all: for position in positions { applied[position] = true }
        case .only(let ids): for (position, id) in zip(positions, self.ids) { applied[position] = ids.contains(id.description) }
        }
        return applied
    }
}

/// Which plain completions of a call applied: all of them (the store answered as many ids as
/// it was given, so it did not need to be read), or only those of the ids answered.
enum AppliedCompletions: Equatable, Sendable {
    case all
    case only(Set<String>)
}
