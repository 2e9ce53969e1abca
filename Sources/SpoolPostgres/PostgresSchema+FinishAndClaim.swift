extension PostgresSchema {
    /// The server-side function `spool_finish_and_claim`: a dispatcher's common step, recording
    /// plain completions and claiming the next jobs, in one call and one transaction. Migration
    /// 3 created it; migration 4 replaced it with the one `announcingEnds`, which also sends the
    /// ids of the jobs it completed on ``endsChannel`` while a process follows ends
    /// (``followers``). Part of released migrations: never edit either text; a change is a new
    /// migration that replaces the function.
    ///
    /// Parameters: the completions' time, and their ids, dispatchers, results and whether each has
    /// a result as arrays (empty for none); the claim's time, limit (0 claims nothing),
    /// dispatcher, lease end, queues (`NULL` for every queue) and whether it goes by priority.
    ///
    /// It answers one header row first, whose job columns are `NULL`, with `page_count` (how
    /// many waiting jobs the claim looked at) and `completed` (the ids whose completion applied),
    /// then one row per claimed job. Due scheduled and retryable jobs are made available first,
    /// and the claim takes waiting jobs in policy order up to the first that names a quota;
    /// `page_count` above the number claimed says a full claim must look further.
    ///
    /// PostgreSQL caches the plans of a function's statements, and a plan made while the store
    /// was empty must still serve it holding millions of jobs. So the function's settings keep
    /// its planner from sequential scans, bitmap scans and sorts, rows are found by index
    /// lookups of arrays (`seq = ANY(...)`, never a join the planner could turn around), and
    /// every waiting-job page walks an index in policy order. (Planned on statistics instead, a
    /// claim whose queue looked empty at the last `ANALYZE` sorted the queue's whole backlog on
    /// every call, and the correlated pause check the claim used to have made the planner do so
    /// even with fresh statistics.) A plan that still needs a disabled step (the scan of the
    /// paused queues) carries the planner's penalty in its cost, which would make PostgreSQL
    /// compile it to machine code on every call: JIT is off too.
    ///
    /// With `plainCompletions` (migration 10), completions without results held by one
    /// dispatcher, as a busy worker's are, are recorded without joining the ids with their
    /// dispatchers and results: that join cost about 13 % of a claim-and-complete loop
    /// (BENCHMARKS, "What Spool's schema allows").
    ///
    /// With `claimFloor` (migration 11) the function takes one more parameter, `p_floor`: the
    /// policy-order key of the first job the caller's last claim took (`[run_at, seq]`, or
    /// `[priority, run_at, seq]` by priority), or `NULL`. The page then begins there instead of at
    /// the front of the index, whose entries for jobs already claimed stay until vacuum removes
    /// them and would be stepped over by every claim (a drain of a million jobs left each claim
    /// 3 ms of them). A page that comes short of the limit, or a call that made due jobs
    /// available, looks from the front as before. ``ClaimFloors`` says when the caller passes one.
    ///
    /// With `keyed` (migration 14) the function takes the completions' keys too, `p_keys`, in
    /// the order of their ids, and finds the jobs by key (the id has no index of its own,
    /// PostgresSchema+JobKeys), checking each job's id against a hash of the ids (a semi-join;
    /// nested loops are off). An `= ANY` filter of the ids compares each job with every id in a
    /// generic plan, and so does a join by nested loop: a plain completion cost 4–5 µs more a job.
    ///
    /// With `byKeyOnly` (migration 15) the plain completion's test of state and dispatcher is
    /// one that no index answers (`(...) IS TRUE`), so that its jobs are found by key alone. With
    /// statistics from when few jobs ran, the planner took the running jobs' index
    /// (`spool_jobs_running`) instead: it read every job the dispatcher held, finished or not,
    /// and compared each with every key of the call, 400 comparisons a job at 400 a call
    /// (BENCHMARKS, "Migrations 15 and 16, and a lighter worker").
    ///
    /// With `narrow` (migration 16) the function is ``dispatcherStep``, whose rows leave out the
    /// columns its claim sets to what the caller knows (`PostgresRows.claimedColumnsLeftOut`):
    /// each claimed job is five columns fewer to form, send and read.
    func finishAndClaimFunction(announcingEnds: Bool, tracing: Bool = false, plainCompletions: Bool = false,
                                claimFloor: Bool = false, keyed: Bool = false, byKeyOnly: Bool = false, narrow: Bool = false) -> String {
        // A job's columns as `PostgresRows.jobColumns` lists them, written out so that the
        // migration's text never changes with that list.
        let all = [("id", "text"), ("queue", "text"), ("name", "text"), ("payload", "text"), ("state", "text"),
                   ("priority", "bigint"), ("attempt", "bigint"), ("max_attempts", "bigint"), ("run_at", "bigint"),
                   ("created_at", "bigint"), ("started_at", "bigint"), ("finished_at", "bigint"), ("quotas", "text[]"),
                   ("tags", "text[]"), ("unique_key", "text"), ("timeout_ms", "bigint"), ("dispatcher", "uuid"),
                   ("lease_until", "bigint"), ("cancel_requested", "boolean"), ("result", "text"), ("errors", "text[]"),
                   ("seq", "bigint")] + (tracing ? [("trace_context", "text")] : [])
        let leftOut: Set = narrow ? ["state", "started_at", "dispatcher", "lease_until", "cancel_requested"] : []
        let columns = all.filter { !leftOut.contains($0.0) }
        let outputs = columns.map { "\($0) \($1)" }.joined(separator: ", ")
        let header = columns.map { "NULL::\($1)" }.joined(separator: ", ")
        let returned = columns.map { "j.\($0.0)" }.joined(separator: ", ")
        func page(queues: String, order: String, floor: String?) -> String {
            """
            SELECT array_agg(p.seq), array_agg(p.quotas = '{}') INTO v_seqs, v_plain FROM (
                        SELECT c.seq, c.quotas FROM \(jobs) AS c WHERE c.state = 'available' AND \(queues)\(floor.map { " AND " + $0 } ?? "")
                        ORDER BY \(order) LIMIT p_limit FOR UPDATE SKIP LOCKED) AS p;
            """
        }
        let unpaused = "NOT EXISTS (SELECT 1 FROM \(queues) AS q WHERE q.paused AND q.name = p_queues[1])"
        let anyUnpaused = "c.queue = ANY(ARRAY(SELECT n FROM unnest(p_queues) AS n WHERE NOT EXISTS (SELECT 1 FROM \(queues) AS q WHERE q.paused AND q.name = n)))"
        let everyUnpaused = "c.queue <> ALL(ARRAY(SELECT q.name FROM \(queues) AS q WHERE q.paused))"
        let variants = [("p_by_priority AND p_queues IS NULL", everyUnpaused, true),
                        ("p_by_priority AND cardinality(p_queues) = 1", "c.queue = p_queues[1] AND \(unpaused)", true),
                        ("p_by_priority", anyUnpaused, true),
                        ("p_queues IS NULL", everyUnpaused, false),
                        ("cardinality(p_queues) = 1", "c.queue = p_queues[1] AND \(unpaused)", false),
                        (nil, anyUnpaused, false)]
        func pages(floored: Bool) -> String {
            variants.enumerated().map { index, variant in
                let (test, queues, byPriority) = variant
                let keyword = test.map { (index == 0 ? "IF " : "ELSIF ") + $0 + " THEN" } ?? "ELSE"
                let order = byPriority ? "c.priority, c.run_at, c.seq" : "c.run_at, c.seq"
                let floor = byPriority ? "(\(order)) >= (p_floor[1], p_floor[2], p_floor[3])" : "(\(order)) >= (p_floor[1], p_floor[2])"
                return "        \(keyword)\n            " + page(queues: queues, order: order, floor: floored ? floor : nil)
            }.joined(separator: "\n") + "\n        END IF;"
        }
        // With a floor: the page from there while it fills; otherwise (or when it came short)
        // the page from the front.
        let claimPages = claimFloor ? """
                    v_floored := p_floor IS NOT NULL AND v_due IS NULL;
                    IF v_floored THEN
            \(pages(floored: true))
                        v_floored := coalesce(cardinality(v_seqs), 0) >= p_limit;
                    END IF;
                    IF NOT v_floored THEN
            \(pages(floored: false))
                    END IF;
            """ : pages(floored: false)
        let joined = """
                    WITH done AS (
                        UPDATE \(jobs) AS j SET state = 'completed', result = CASE WHEN v.has_result THEN v.result END,
                            finished_at = p_finished_at, lease_until = NULL, cancel_requested = false
                        FROM unnest(p_ids, p_dispatchers, p_results, p_has_results) AS v(id, dispatcher, result, has_result)
                        WHERE \(keyed ? "j.seq = ANY(v_keys)" : "j.id = ANY(p_ids)") AND j.id = v.id AND j.state = 'running' AND j.dispatcher = v.dispatcher
                        RETURNING j.id),
                    freed AS (DELETE FROM \(quotaHolders) AS h WHERE h.job_id = ANY(ARRAY(SELECT d.id FROM done AS d)))
                    SELECT coalesce(array_agg(d.id), '{}') INTO v_completed FROM done AS d;
            """
        return """
            CREATE \(announcingEnds ? "OR REPLACE " : "")FUNCTION \(narrow ? dispatcherStep : finishAndClaim)(
                p_finished_at bigint, p_ids text[], p_dispatchers uuid[], p_results text[], p_has_results boolean[],
                p_now bigint, p_limit bigint, p_dispatcher uuid, p_lease bigint, p_queues text[], p_by_priority boolean\(claimFloor ? ", p_floor bigint[]" : "")\(keyed ? ", p_keys bigint[]" : ""))
            RETURNS TABLE (\(outputs), page_count bigint, completed text[])
            LANGUAGE plpgsql
            SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off SET jit = off\(keyed ? " SET enable_nestloop = off" : "")
            AS $spool$
            #variable_conflict use_column
            DECLARE
                v_completed text[] := '{}';
                v_due bigint[];
                v_seqs bigint[];
                v_plain boolean[];
                v_leading int;\(announcingEnds ? "\n    v_chunk int;" : "")\(claimFloor ? "\n    v_floored boolean;" : "")\(keyed ? "\n    v_keys bigint[];" : "")
            BEGIN
                IF cardinality(p_ids) > 0 THEN\(keyed ? "\n        v_keys := p_keys || \(legacyKeys(ids: "p_ids"));" : "")
            \(plainCompletions ? plainFirst(joined: joined, keyed: keyed, byKeyOnly: byKeyOnly) : joined)\(announcingEnds ? announceCompleted : "")
                END IF;
                IF p_limit > 0 THEN
                    SELECT array_agg(d.seq) INTO v_due FROM (
                        SELECT d.seq FROM \(jobs) AS d WHERE d.state IN ('scheduled', 'retryable') AND d.run_at <= p_now
                        FOR UPDATE SKIP LOCKED) AS d;
                    IF v_due IS NOT NULL THEN
                        UPDATE \(jobs) AS j SET state = 'available' WHERE j.seq = ANY(v_due);
                    END IF;
            \(claimPages)
                END IF;
                v_leading := coalesce(array_position(v_plain, false) - 1, cardinality(v_plain), 0);
                RETURN QUERY SELECT \(header), coalesce(cardinality(v_seqs), 0)::bigint, v_completed;
                IF v_leading > 0 THEN
                    RETURN QUERY WITH claimed AS (
                        UPDATE \(jobs) AS j SET state = 'running', attempt = j.attempt + 1, started_at = p_now,
                            dispatcher = p_dispatcher, lease_until = p_lease, cancel_requested = false
                        WHERE j.seq = ANY(v_seqs[1:v_leading])
                        RETURNING \(returned))
                    SELECT c.*, NULL::bigint, NULL::text[] FROM claimed AS c;
                END IF;
            END
            $spool$
            """
    }

    /// The completions of migration 10: when every completion is a plain one (no result) of one
    /// dispatcher, one update of the jobs by id; otherwise `joined`, the statements before it.
    private func plainFirst(joined: String, keyed: Bool, byKeyOnly: Bool) -> String {
        let held = byKeyOnly ? "(j.state = 'running' AND j.dispatcher = p_dispatchers[1]) IS TRUE" : "j.state = 'running' AND j.dispatcher = p_dispatchers[1]"
        return """
                IF p_dispatchers[1] = ALL(p_dispatchers) AND NOT (true = ANY(p_has_results)) THEN
                    WITH done AS (
                        UPDATE \(jobs) AS j SET state = 'completed', result = NULL, finished_at = p_finished_at, lease_until = NULL,
                            cancel_requested = false
                        WHERE \(keyed ? "j.seq = ANY(v_keys) AND j.id IN (SELECT unnest(p_ids))" : "j.id = ANY(p_ids)") AND \(held)
                        RETURNING j.id),
                    freed AS (DELETE FROM \(quotaHolders) AS h WHERE h.job_id = ANY(ARRAY(SELECT d.id FROM done AS d)))
                    SELECT coalesce(array_agg(d.id), '{}') INTO v_completed FROM done AS d;
                ELSE
        \(joined)
                END IF;
        """
    }

    /// The statements of the function of migration 4 that announce its completions.
    private var announceCompleted: String {
        """

                    IF cardinality(v_completed) > 0 AND EXISTS (SELECT 1 FROM \(followers) AS f WHERE f.until > p_finished_at) THEN
                        FOR v_chunk IN 0 .. (cardinality(v_completed) - 1) / \(PostgresSchema.idsPerEndNotification) LOOP
                            PERFORM pg_notify('\(endsChannel)', 'completed' || chr(10) || array_to_string(
                                v_completed[v_chunk * \(PostgresSchema.idsPerEndNotification) + 1 : (v_chunk + 1) * \(PostgresSchema.idsPerEndNotification)], chr(10)));
                        END LOOP;
                    END IF;
        """
    }
}
