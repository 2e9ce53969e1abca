import Foundation
import Logging
import PostgresNIO
import SpoolCore

extension PostgresStore {
    /// Whether `jobs` may go in by the plain insert: none names a quota or a unique key, so every
    /// one is inserted and there is nothing to check or look up.
    static func insertsPlainly(_ jobs: [NewJob]) -> Bool {
        jobs.allSatisfy { $0.quotas.isEmpty && $0.uniqueKey == nil }
    }

    /// Inserts `jobs` (``insertsPlainly(_:)``) with the plain prepared statement on a pooled
    /// connection, in one round trip, sending the NOTIFY itself when `notifying`: for the queues
    /// that gain available jobs and the queues `also` (others' enqueues to announce). Most jobs name
    /// no quota and no unique key: the full insert's quota check, its lookup of unique keys'
    /// holders and the row of their columns it returns cost a one-job enqueue a sixth of its time.
    ///
    /// When another process's job took one of the jobs' keys (``SpoolCore/JobID/sequenceKey``),
    /// the statement fails and nothing is inserted; the jobs then get new ids past the highest
    /// key and the statement runs again. (Letting each row that finds its key taken go, as the
    /// full insert does, costs a bulk insert about half as much again: PostgreSQL writes such
    /// rows speculatively and confirms each one.)
    static func insertPlainly(_ jobs: [NewJob], now: Date, schema: PostgresSchema, notifying: Bool, also: Set<String> = [],
                              on connection: PostgresConnection, logger: Logger) async throws -> [InsertResult] {
        guard !jobs.isEmpty else { return [] }
        var tries = 0
        while true {
            do {
                return try await insertPlainlyOnce(jobs, now: now, schema: schema, notifying: notifying, also: also, on: connection,
                                                   logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505"
                        && error.serverInfo?[.constraintName] == "spool_jobs_pkey" {
                tries += 1
                guard tries < insertTries else { throw keysTaken(jobs.count) }
                try await skipPastKeys(schema: schema, on: connection, logger: logger)
            }
        }
    }

    private static func insertPlainlyOnce(_ jobs: [NewJob], now: Date, schema: PostgresSchema, notifying: Bool, also: Set<String>,
                                          on connection: PostgresConnection, logger: Logger) async throws -> [InsertResult] {
        let built = Self.built(jobs, now: now)
        var binds = PostgresBindings()
        let one = built.count == 1
        appendLeadingColumns(of: built, single: one, to: &binds)
        binds.appendColumn(of: built, single: one, Self.tagsText)
        binds.append(PostgresRows.micros(now))
        binds.appendColumn(of: built, single: one, Self.timeoutMilliseconds)
        binds.appendColumn(of: built, single: one) { $0.traceContext.storedText ?? "" }
        binds.append(schema.channel)
        binds.append(PostgresSchema.queuePayloads(also.union(built.lazy.filter { $0.state == .available }.map(\.queue)).sorted()))
        binds.appendColumn(of: built, single: one, \.id.sequenceKey)
        let rows = switch (one, notifying) {
        case (true, true): try await connection.rows(PlainInsertOneStatement.self, binds, logger: logger)
        case (true, false): try await connection.rows(QuietPlainInsertOneStatement.self, binds, logger: logger)
        case (false, true): try await connection.rows(PlainInsertStatement.self, binds, logger: logger)
        case (false, false): try await connection.rows(QuietPlainInsertStatement.self, binds, logger: logger)
        }
        let inserted = try rows.first?[0].decode(Int.self)
        guard inserted == built.count else {
            throw SpoolError(.storeUnavailable, "the insert of \(jobs.count) jobs inserted \(inserted.map(String.init) ?? "none")")
        }
        return built.map { InsertResult(job: $0, inserted: true) }
    }

    /// The jobs `jobs` become when enqueued at `now`: new ids, run times to the store's precision.
    static func built(_ jobs: [NewJob], now: Date) -> [Job] {
        var random = SeededRandom()
        return jobs.map { new in
            var job = Job(new: new, id: JobID.make(at: now, using: &random), now: now)
            job.runAt = PostgresRows.truncate(job.runAt)
            return job
        }
    }

    /// Appends the columns both inserts start with ($1–$8): id, queue, name, payload, state,
    /// priority, most attempts, run time; one element per job, or with `single` the one job's
    /// values themselves (``plainInsertSQL(_:notifying:one:)`` with `one`).
    static func appendLeadingColumns(of built: [Job], single: Bool = false, to binds: inout PostgresBindings) {
        binds.appendColumn(of: built, single: single, \.id.description)
        binds.appendColumn(of: built, single: single, \.queue)
        binds.appendColumn(of: built, single: single, \.name)
        binds.appendColumn(of: built, single: single, \.payload.text)
        binds.appendColumn(of: built, single: single, \.state.rawValue)
        binds.appendColumn(of: built, single: single) { Int64($0.priority) }
        binds.appendColumn(of: built, single: single) { Int64($0.maxAttempts) }
        binds.appendColumn(of: built, single: single) { PostgresRows.micros($0.runAt) }
    }

    /// A job's tags as the insert takes them: a JSON array's text, `[]` for none.
    static func tagsText(_ job: Job) -> String {
        job.tags.isEmpty ? "[]" : JSONValue.array(job.tags.map(JSONValue.string)).compactText
    }

    /// A job's timeout in milliseconds as the insert takes it, -1 for none.
    static func timeoutMilliseconds(_ job: Job) -> Int64 {
        job.timeout.map { Int64($0.seconds * 1000) } ?? -1
    }

    /// The statement behind ``insertPlainly(_:now:schema:notifying:on:logger:)``: the jobs'
    /// columns ($1–$9, $11, $12, $15: one element per job; $15 the keys), now ($10), the channel
    /// and the NOTIFY's payloads ($13, $14: the queues gaining available jobs, one per line, in as
    /// many payloads as PostgreSQL's 8000-byte limit needs, none for none). Its
    /// one row holds the number of jobs inserted. Without `notifying` the NOTIFY is there but
    /// never sent (a constant false), so that the statement keeps its parameters' types.
    ///
    /// With `one`, each column is a single value and the row comes from `VALUES` instead of
    /// `unnest`: the most common enqueue, one job, then costs the server about 4 % less (no
    /// arrays to read and take apart) and the client no arrays to write.
    static func plainInsertSQL(_ schema: PostgresSchema, notifying: Bool, one: Bool = false) -> String {
        let source = one ? """
            (VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::bigint, $8::bigint, $9::text,
                     $11::bigint, $12::text, $15::bigint))
            """ : """
            unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                        $8::bigint[], $9::text[], $11::bigint[], $12::text[], $15::bigint[])
            """
        return """
        WITH inserted AS (
            INSERT INTO \(schema.jobs) (seq, id, queue, name, payload, state, priority, attempt, max_attempts, run_at,
                                        created_at, tags, timeout_ms, trace_context)
            SELECT seq, id, queue, name, payload, state, priority, 0, max_attempts, run_at, $10::bigint,
                   CASE WHEN tags = '[]' THEN '{}'::text[] ELSE ARRAY(SELECT json_array_elements_text(tags::json)) END,
                   NULLIF(timeout_ms, -1), NULLIF(trace_context, '')
            FROM \(source)
                AS input(id, queue, name, payload, state, priority, max_attempts, run_at, tags, timeout_ms, trace_context, seq)
            RETURNING 1
        )
        SELECT count(*),
               (SELECT count(*) FROM (SELECT pg_notify($13::text, payload) FROM unnest($14::text[]) AS payload
                                      WHERE \(notifying ? "true" : "false")) AS sent)
        FROM inserted
        """
    }
}

extension PostgresBindings {
    /// Appends one column of `jobs`: an array with an element per job, or with `single` the
    /// first job's value alone.
    mutating func appendColumn<Value: PostgresArrayEncodable & PostgresNonThrowingEncodable>(
        of jobs: [Job], single: Bool, _ value: (Job) -> Value) {
        if single { append(value(jobs[0])) } else { append(jobs.map(value)) }
    }
}
