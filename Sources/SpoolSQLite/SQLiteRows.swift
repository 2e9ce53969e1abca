import Foundation
import GRDB
import SpoolCore

/// How jobs and times are written to and read from rows.
enum SQLiteRows {
    /// The columns of a job, in the order ``job(_:)`` reads them; `seq` is the 22nd (index 21).
    static let jobColumns = """
        id, queue, name, payload, state, priority, attempt, max_attempts, run_at, created_at, started_at, \
        finished_at, quotas, tags, unique_key, timeout_ms, dispatcher, lease_until, cancel_requested, result, errors, seq, \
        trace_context
        """

    static func job(_ row: Row) throws -> Job {
        let idText: String = row[0]
        guard let id = JobID(idText) else { throw SpoolError(.storeCorrupt, "job row with invalid id '\(idText)'") }
        let stateText: String = row[4]
        guard let state = JobState(rawValue: stateText) else {
            throw SpoolError(.storeCorrupt, "job \(idText) has unknown state '\(stateText)'")
        }
        let timeoutMillis: Int64? = row[15]
        let dispatcherText: String? = row[16]
        let cancelRequested: Int64 = row[18]
        let resultText: String? = row[19]
        let errorsText: String? = row[20]
        return Job(
            id: id, queue: row[1], name: row[2], payload: JSONPayload(unchecked: row[3]), state: state,
            priority: row[5], attempt: row[6], maxAttempts: row[7], runAt: date(row[8]), createdAt: date(row[9]),
            startedAt: optionalDate(row[10]), finishedAt: optionalDate(row[11]),
            quotas: strings(row[12]), tags: strings(row[13]), uniqueKey: row[14],
            timeout: timeoutMillis.map { .milliseconds($0) },
            dispatcher: dispatcherText.flatMap(UUID.init(uuidString:)), leaseExpiresAt: optionalDate(row[17]),
            cancelRequested: cancelRequested != 0, result: resultText.map(JSONPayload.init(unchecked:)),
            errors: try errors(errorsText), traceContext: TraceContext(storedText: row[22]))
    }

    /// The job at the current row of `statement`, which selected ``jobColumns``.
    static func job(_ statement: BoundStatement) throws -> Job {
        guard let id = statement.withText(0, JobID.init(canonicalUTF8:)) else {
            throw SpoolError(.storeCorrupt, "job row with invalid id '\(statement.text(0) ?? "")'")
        }
        let stateText = statement.text(4) ?? ""
        guard let state = JobState(rawValue: stateText) else {
            throw SpoolError(.storeCorrupt, "job \(id) has unknown state '\(stateText)'")
        }
        return Job(
            id: id, queue: statement.text(1) ?? "", name: statement.text(2) ?? "",
            payload: JSONPayload(unchecked: statement.text(3) ?? "null"), state: state,
            priority: statement.int(5), attempt: statement.int(6), maxAttempts: statement.int(7),
            runAt: date(statement.int64(8)), createdAt: date(statement.int64(9)),
            startedAt: statement.optionalInt64(10).map(date), finishedAt: statement.optionalInt64(11).map(date),
            quotas: strings(statement.text(12)), tags: strings(statement.text(13)), uniqueKey: statement.text(14),
            timeout: statement.optionalInt64(15).map { .milliseconds($0) },
            dispatcher: statement.text(16).flatMap(UUID.init(uuidString:)), leaseExpiresAt: statement.optionalInt64(17).map(date),
            cancelRequested: statement.int64(18) != 0, result: statement.text(19).map(JSONPayload.init(unchecked:)),
            errors: try errors(statement.text(20)), traceContext: TraceContext(storedText: statement.text(22)))
    }

    static func micros(_ date: Date) -> Int64 { date.clampedMicrosecondsSince1970 }

    static func date(_ micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }

    static func optionalDate(_ micros: Int64?) -> Date? { micros.map(date) }

    /// `now` as the store keeps it: whole microseconds.
    static func truncate(_ date: Date) -> Date { self.date(micros(date)) }

    /// A list of names (quotas, tags) as a JSON array of strings; `nil` when empty.
    static func text(_ strings: [String]) -> String? {
        guard !strings.isEmpty else { return nil }
        return StringList.encode(strings)
    }

    /// The names of a JSON array of strings written by ``text(_:)-([String])``.
    static func strings(_ text: String?) -> [String] {
        guard let text else { return [] }
        return StringList.decode(text) ?? []
    }

    static func text(_ error: AttemptError) -> String {
        (try? JSONPayload(encoding: error))?.text ?? "{}"
    }

    static func errors(_ text: String?) throws -> [AttemptError] {
        guard let text else { return [] }
        return try JSONPayload(unchecked: text).decode([AttemptError].self)
    }

    static func uuid(_ id: UUID) -> String { id.uuidString.lowercased() }
}

/// How a store finds a job's row from its id. Since migration 4 a job's `seq` (its row number)
/// is its id's ``JobID/sequenceKey``, so no index on `id` is needed and an insert writes one
/// b-tree fewer. Jobs written before keep their row numbers, all below 2^32, and are found
/// through the partial index `jobs_legacy_id`; only a store that holds such jobs pays for that
/// second lookup.
struct JobKeys: Sendable {
    /// Whether the store holds jobs written before migration 4.
    let legacy: Bool

    /// Reads whether the store at `db` holds jobs written before migration 4.
    init(_ db: Database) throws {
        legacy = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM jobs WHERE seq < 4294967296)") ?? false
    }

    /// The condition that picks the job with a given id; its parameters are ``arguments(_:)``.
    var condition: String {
        legacy
            ? "seq IN (?, (SELECT legacy.seq FROM jobs AS legacy WHERE legacy.seq < 4294967296 AND legacy.id = ?)) AND id = ?"
            : "seq = ? AND id = ?"
    }

    /// The arguments of ``condition`` for `id`.
    func arguments(_ id: JobID) -> [any DatabaseValueConvertible] {
        let text = id.description
        return legacy ? [id.sequenceKey, text, text] : [id.sequenceKey, text]
    }

    /// Binds ``arguments(_:)`` for `id` to `statement` from parameter `index`; returns the next
    /// parameter's index.
    func bind(_ id: JobID, to statement: BoundStatement, at index: Int32) -> Int32 {
        statement.bind(index, id.sequenceKey)
        statement.bind(index + 1, id)
        if !legacy { return index + 2 }
        statement.bind(index + 2, id)
        return index + 3
    }
}
