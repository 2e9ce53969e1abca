import PostgresNIO
import SpoolCore

/// Finding jobs by id without an index of the id (migration 14): a job's key, `seq`, is its
/// id's first 64 bits (``SpoolCore/JobID/sequenceKey``), so a job is looked up by its key and
/// its id checked. Jobs inserted before migration 14 keep the identity numbers they had as
/// keys, all below ``legacyKeys``, and are found through the partial index of their ids,
/// `spool_jobs_legacy_id`, which holds nothing else and empties as they are deleted.
extension PostgresSchema {
    /// Keys below this one (2^48) are the numbers of jobs inserted before migration 14; a
    /// version 7 id's first 64 bits are above 2^56 for any millisecond after 2004.
    static let legacyKeys: Int64 = 1 << 48

    /// The condition that picks the jobs with the ids of the `text[]` expression `ids`, whose
    /// keys are the `bigint[]` expression `keys`, in the same order (`j` qualifies the columns
    /// when given).
    func keyed(keys: String, ids: String, as alias: String? = nil) -> String {
        let column = alias.map { "\($0)." } ?? ""
        return "\(column)seq = ANY(\(keys) || \(legacyKeys(ids: ids))) AND \(column)id = ANY(\(ids))"
    }

    /// The keys of jobs inserted before migration 14 whose ids are in the `text[]` expression
    /// `ids` (none once every such job is deleted).
    func legacyKeys(ids: String) -> String {
        "ARRAY(\(legacyLookup("= ANY(\(ids))")))"
    }

    /// The query of the keys of jobs inserted before migration 14 whose id meets `comparison`
    /// (such as `= v.id`), through their ids' partial index.
    func legacyLookup(_ comparison: String) -> String {
        "SELECT l.seq FROM \(jobs) AS l WHERE l.seq < \(PostgresSchema.legacyKeys) AND l.id \(comparison)"
    }
}

extension PostgresQuery.StringInterpolation {
    /// Appends the condition that picks the job `id` of `schema` by its key (``PostgresSchema/keyed(keys:ids:as:)``).
    mutating func appendInterpolation(job id: JobID, of schema: PostgresSchema) {
        appendInterpolation(jobs: [id], of: schema)
    }

    /// Appends the condition that picks the jobs `ids` of `schema` by their keys (``PostgresSchema/keyed(keys:ids:as:)``).
    mutating func appendInterpolation(jobs ids: [JobID], of schema: PostgresSchema) {
        let texts = JobIDTexts(ids)
        appendInterpolation(unescaped: "seq = ANY(")
        appendInterpolation(ids.map(\.sequenceKey))
        let legacy = schema.legacyLookup("= ANY(")
        appendInterpolation(unescaped: "::bigint[] || ARRAY(" + legacy)
        appendInterpolation(texts)
        appendInterpolation(unescaped: "::text[]))) AND id = ANY(")
        appendInterpolation(texts)
        appendInterpolation(unescaped: "::text[])")
    }
}
