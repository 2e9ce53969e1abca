import Foundation
import PostgresNIO
import SpoolCore

/// How jobs and times are written to and read from rows.
enum PostgresRows {
    /// The columns of a job, in the order ``job(_:)`` reads them; `seq` is the 22nd (index 21).
    static let jobColumns = """
        id, queue, name, payload, state, priority, attempt, max_attempts, run_at, created_at, started_at, \
        finished_at, quotas, tags, unique_key, timeout_ms, dispatcher, lease_until, cancel_requested, result, errors, seq, \
        trace_context
        """

    /// The columns of a job that the dispatcher step's claim sets to what its caller knows
    /// (state `running`, the claim's time, dispatcher and lease end, no cancel request), which
    /// its rows leave out (``JobRowLayout/claimed``).
    static let claimedColumnsLeftOut: Set = ["state", "started_at", "dispatcher", "lease_until", "cancel_requested"]

    /// ``jobColumns`` qualified by a table alias, for a query that joins tables.
    static func jobColumns(of table: String) -> String {
        jobColumns.split(separator: ",").map { "\(table).\($0.trimmingCharacters(in: .whitespaces))" }.joined(separator: ", ")
    }

    /// The job in a row selected with ``jobColumns``.
    static func job(_ row: PostgresRow) throws -> Job {
        try job(row.makeRandomAccess())
    }

    /// The job in a row selected with ``jobColumns``, or, given what its claim wrote
    /// (`claimed`), in a row of the dispatcher step, which leaves those columns out
    /// (``JobRowLayout/claimed``).
    static func job(_ row: PostgresRandomAccessRow, claimed: ClaimedFields? = nil) throws -> Job {
        var column = 0
        func next() -> PostgresCell {
            defer { column += 1 }
            return row[column]
        }
        let id = try jobID(next())
        let queue = try next().decode(String.self), name = try next().decode(String.self)
        let payload = JSONPayload(unchecked: try next().decode(String.self))
        let state: JobState
        if claimed != nil {
            state = .running
        } else {
            let text = try next().decode(String.self)
            guard let known = JobState(rawValue: text) else { throw SpoolError(.storeCorrupt, "job \(id) has unknown state '\(text)'") }
            state = known
        }
        let priority = try next().decode(Int.self), attempt = try next().decode(Int.self), maxAttempts = try next().decode(Int.self)
        let runAt = date(try next().decode(Int64.self)), createdAt = date(try next().decode(Int64.self))
        let startedAt = try claimed.map(\.startedAt) ?? next().decode(Int64?.self).map(date)
        let finishedAt = try next().decode(Int64?.self).map(date)
        let quotas = try next().decode([String].self), tags = try next().decode([String].self)
        let uniqueKey = try next().decode(String?.self), timeoutMillis = try next().decode(Int64?.self)
        let dispatcher = try claimed.map(\.dispatcher) ?? next().decode(UUID?.self)
        let leaseExpiresAt = try claimed.map(\.leaseExpiresAt) ?? next().decode(Int64?.self).map(date)
        let cancelRequested = claimed == nil ? try next().decode(Bool.self) : false
        let result = try next().decode(String?.self).map(JSONPayload.init(unchecked:))
        let errors = try next().decode([String].self).map { try JSONPayload(unchecked: $0).decode(AttemptError.self) }
        _ = next()   // seq
        let traceContext = TraceContext(storedText: try next().decode(String?.self))
        return Job(id: id, queue: queue, name: name, payload: payload, state: state, priority: priority, attempt: attempt,
                   maxAttempts: maxAttempts, runAt: runAt, createdAt: createdAt, startedAt: startedAt, finishedAt: finishedAt,
                   quotas: quotas, tags: tags, uniqueKey: uniqueKey, timeout: timeoutMillis.map { .milliseconds($0) },
                   dispatcher: dispatcher, leaseExpiresAt: leaseExpiresAt, cancelRequested: cancelRequested, result: result,
                   errors: errors, traceContext: traceContext)
    }

    /// The job id in `cell`, parsed from the cell's bytes when they hold the canonical text
    /// (no string is made for it).
    static func jobID(_ cell: PostgresCell) throws -> JobID {
        let canonical = cell.bytes?.withUnsafeReadableBytes { bytes in
            JobID(canonicalUTF8: UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count))
        }
        if let canonical { return canonical }
        let text = try cell.decode(String.self)
        guard let id = JobID(text) else { throw SpoolError(.storeCorrupt, "job row with invalid id '\(text)'") }
        return id
    }

    /// How many elements the one-dimensional array in `cell` has, read from the header of its
    /// binary form without decoding them; `nil` for a `NULL` or a cell in text form.
    static func arrayCount(_ cell: PostgresCell) -> Int? {
        // Dimensions, whether there are NULLs, the element type; then each dimension's length.
        guard cell.format == .binary, var bytes = cell.bytes, let dimensions = bytes.readInteger(as: Int32.self),
              bytes.readSlice(length: 8) != nil else { return nil }
        switch dimensions {
        case 0: return 0
        case 1: return bytes.readInteger(as: Int32.self).map(Int.init)
        default: return nil
        }
    }

    /// The `seq` of a row selected with ``jobColumns``, or of a row laid out as `layout`.
    static func seq(_ row: PostgresRandomAccessRow, _ layout: JobRowLayout = .all) throws -> Int64 {
        try row[layout.seq].decode(Int64.self)
    }

    /// The policy-order key of the job in a row laid out as `layout`, exactly as stored.
    static func claimKey(_ row: PostgresRandomAccessRow, byPriority: Bool, _ layout: JobRowLayout = .all) throws -> ClaimKey {
        ClaimKey(priority: byPriority ? try row[layout.priority].decode(Int64.self) : nil, runAt: try row[layout.runAt].decode(Int64.self),
                 seq: try seq(row, layout))
    }

    static func micros(_ date: Date) -> Int64 { date.clampedMicrosecondsSince1970 }

    static func date(_ micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }

    /// `now` as the store keeps it: whole microseconds.
    static func truncate(_ date: Date) -> Date { self.date(micros(date)) }

    /// An attempt's error as the JSON text kept in the `errors` array.
    static func text(_ error: AttemptError) -> String {
        (try? JSONPayload(encoding: error))?.text ?? "{}"
    }
}

extension PostgresConnection {
    /// Runs `body` between `BEGIN` and `COMMIT`, rolling back when it throws; the body's error is
    /// rethrown as it is (PostgresNIO's `withTransaction` wraps it).
    func transaction<T>(logger: Logger, isolation: isolated (any Actor)? = #isolation,
                        _ body: (PostgresConnection) async throws -> sending T) async throws -> sending T {
        try await query("BEGIN", logger: logger)
        let value: T
        do {
            value = try await body(self)
        } catch {
            _ = try? await query("ROLLBACK", logger: logger)
            throw error
        }
        try await query("COMMIT", logger: logger)
        return value
    }

    /// The rows of `query`, collected.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await self.query(query, logger: logger) { rows.append(row.makeRandomAccess()) }
        return rows
    }

    /// The jobs `query` selects with ``PostgresRows/jobColumns``.
    func jobs(_ query: PostgresQuery, logger: Logger) async throws -> [Job] {
        try await rows(query, logger: logger).map { try PostgresRows.job($0) }
    }

    /// How many rows `query` returns: commands report what they changed with `RETURNING`.
    func count(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        var count = 0
        for try await _ in try await self.query(query, logger: logger) { count += 1 }
        return count
    }
}

/// Where a job's columns are in a row.
struct JobRowLayout: Sendable {
    /// How many columns the job takes (a query's own columns follow them).
    let count: Int
    let priority: Int
    let runAt: Int
    let seq: Int

    /// Every column of ``PostgresRows/jobColumns``.
    static let all = JobRowLayout(leavingOut: [])
    /// A claimed job from the dispatcher step: ``PostgresRows/jobColumns`` without those the
    /// claim wrote (``PostgresRows/claimedColumnsLeftOut``).
    static let claimed = JobRowLayout(leavingOut: PostgresRows.claimedColumnsLeftOut)

    private init(leavingOut: Set<String>) {
        let names = PostgresRows.jobColumns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !leavingOut.contains($0) }
        count = names.count
        priority = names.firstIndex(of: "priority")!
        runAt = names.firstIndex(of: "run_at")!
        seq = names.firstIndex(of: "seq")!
    }
}

/// What a claim writes into every job it takes: the columns the dispatcher step leaves out.
struct ClaimedFields: Sendable {
    /// The claim's time, as stored.
    var startedAt: Date
    var dispatcher: UUID
    /// The lease's end, as stored.
    var leaseExpiresAt: Date

    /// What the claim of `params` writes.
    init(_ params: ClaimParams) {
        startedAt = PostgresRows.truncate(params.now)
        dispatcher = params.dispatcher
        leaseExpiresAt = PostgresRows.truncate(startedAt.addingTimeInterval(params.lease.seconds))
    }
}

/// A claimed job's place in its claim's policy order: `(run_at, seq)`, or
/// `(priority, run_at, seq)` by priority.
struct ClaimKey: Comparable, Sendable {
    /// The job's priority when the claim goes by priority, else `nil`.
    var priority: Int64?
    var runAt: Int64
    var seq: Int64

    /// The key as the store function's `p_floor` takes it: `[run_at, seq]`, or
    /// `[priority, run_at, seq]`.
    var values: [Int64] { priority.map { [$0, runAt, seq] } ?? [runAt, seq] }

    static func < (lhs: ClaimKey, rhs: ClaimKey) -> Bool {
        ((lhs.priority ?? 0), lhs.runAt, lhs.seq) < ((rhs.priority ?? 0), rhs.runAt, rhs.seq)
    }
}

/// Job ids bound as one `text[]` parameter, written from the ids themselves (no string is made
/// for each).
struct JobIDTexts: PostgresNonThrowingEncodable {
    let ids: [JobID]

    init(_ ids: [JobID]) { self.ids = ids }

    static var psqlType: PostgresDataType { .textArray }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        // Dimensions (none when empty), no NULLs, the element type; then the length and lower
        // bound of the one dimension, and each element's length and bytes.
        buffer.writeMultipleIntegers(Int32(ids.isEmpty ? 0 : 1), Int32(0), PostgresDataType.text.rawValue)
        guard !ids.isEmpty else { return }
        buffer.writeMultipleIntegers(Int32(ids.count), Int32(1))
        for id in ids {
            id.withCanonicalUTF8 { text in
                buffer.writeInteger(Int32(text.count))
                buffer.writeBytes(text)
            }
        }
    }
}
