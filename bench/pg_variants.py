#!/usr/bin/env python3
"""W2 without a job system over Spool's own PostgreSQL schema and variants of it: what the
schema costs, apart from Spool's code (BENCHMARKS.md, "What Spool's schema allows").

    bench/pg_variants.py indexes    --postgres-url URL --spool PATH [--jobs 20000] [--rounds 3]
    bench/pg_variants.py completion --postgres-url URL --spool PATH [--jobs 20000] [--rounds 3]
    bench/pg_variants.py split      --postgres-url URL [--jobs 20000] [--rounds 3]

Each run fills `--jobs` available no-op jobs with one statement, then two connections (psycopg,
autocommit) loop over one statement per round trip that completes the previous batch and
claims the next 50 (`FOR UPDATE SKIP LOCKED`), until nothing is left; prints the median jobs/s
of the rounds per variant.
  indexes:    spool_jobs as `spool` migrates it (the database's public schema is dropped and
              migrated again before each run), then with indexes dropped, changed or added back
              (the id's unique index, as before migration 14).
  completion: the completion found by key, by key with each id checked (as
              spool_finish_and_claim does), by key joined with each job's id and dispatcher, and
              with the quota holders freed as well.
  split:      a prototype: the wide row keeps no state in any index (ready, running and finished
              jobs in narrow tables of their own), so its updates can be HOT; fillfactor 100, 70, 50.
"""
import argparse
import os
import statistics
import subprocess
import sys

import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import pg_limit  # noqa: E402  the claim-and-complete loop, shared

FILL = """
INSERT INTO spool_jobs (seq, id, queue, name, payload, state, priority, attempt, max_attempts, run_at, created_at)
SELECT ('x' || k)::bit(64)::bigint, substr(k, 1, 8) || '-' || substr(k, 9, 4) || '-' || substr(k, 13, 4) || '-'
           || substr(r, 1, 4) || '-' || substr(r, 5, 12),
       'bench', 'spool.noop', json_build_object('i', i, 'pad', repeat('x', 100))::text, 'available', 0, 0, 3, i, i
FROM (SELECT i, lpad(to_hex(1790000000000::bigint * 65536 + 28672 + i), 16, '0') AS k, md5(i::text) AS r
      FROM generate_series(1, %s) AS i) AS made
"""  # ids as Spool makes them (version 7, time-ordered), each job's key its id's first 64 bits
CLAIM = """
next AS (SELECT seq FROM spool_jobs WHERE state = 'available' ORDER BY run_at, seq LIMIT 50 FOR UPDATE SKIP LOCKED)
UPDATE spool_jobs AS j SET state = 'running', attempt = j.attempt + 1, started_at = 1, dispatcher = %(d)s, lease_until = 2,
    cancel_requested = false FROM next WHERE j.seq = next.seq
RETURNING j.seq, j.id, j.dispatcher
"""
SET = "SET state = 'completed', result = NULL, finished_at = 1, lease_until = NULL, cancel_requested = false"
BY_SEQ = f"WITH done AS (UPDATE spool_jobs {SET} WHERE seq = ANY(%(seqs)s) AND state = 'running'),"
JOINED = f"""WITH done AS (UPDATE spool_jobs AS j {SET} FROM unnest(%(ids)s::text[], %(ds)s::uuid[]) AS v(id, dispatcher)
    WHERE j.seq = ANY(%(seqs)s) AND j.id = v.id AND j.state = 'running' AND j.dispatcher = v.dispatcher RETURNING j.id),"""
COMPLETIONS = {
    "by key": BY_SEQ,
    "by key, each id checked": f"WITH done AS (UPDATE spool_jobs {SET} WHERE seq = ANY(%(seqs)s) AND id = ANY(%(ids)s) AND state = 'running'),",
    "by key, joined with the ids and dispatchers": JOINED,
    "... and the quota holders freed": JOINED + "\nfreed AS (DELETE FROM spool_quota_holders AS h WHERE h.job_id = ANY(ARRAY(SELECT d.id FROM done AS d))),",
}
INDEXES = {
    "as migrated": [],
    "no retention index": ["DROP INDEX spool_jobs_finished"],
    "no priority and per-queue claim indexes": ["DROP INDEX spool_jobs_available_priority", "DROP INDEX spool_jobs_available_queue"],
    "no running-jobs index": ["DROP INDEX spool_jobs_running"],
    "count triggers disabled": ["ALTER TABLE spool_jobs DISABLE TRIGGER USER"],
    "the id's unique index, as before migration 14": ["ALTER TABLE spool_jobs ADD UNIQUE (id)"],
    "only the key and the FIFO claim index": [
        "DROP INDEX spool_jobs_legacy_id", "DROP INDEX spool_jobs_unusual_states", "DROP INDEX spool_jobs_finished",
        "DROP INDEX spool_jobs_available_priority", "DROP INDEX spool_jobs_available_queue", "DROP INDEX spool_jobs_running",
        "DROP INDEX spool_jobs_due", "DROP INDEX spool_jobs_unique_key"],
}


def split_schema(fillfactor):
    return f"""
DROP TABLE IF EXISTS p_jobs, p_ready, p_running, p_finished;
CREATE TABLE p_jobs (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text COLLATE "C" NOT NULL UNIQUE, queue text COLLATE "C" NOT NULL,
    name text NOT NULL, payload text NOT NULL, state text NOT NULL, priority bigint NOT NULL, attempt bigint NOT NULL,
    max_attempts bigint NOT NULL, run_at bigint NOT NULL, created_at bigint NOT NULL, started_at bigint, finished_at bigint,
    quotas text[] NOT NULL DEFAULT '{{}}', tags text[] NOT NULL DEFAULT '{{}}', unique_key text, timeout_ms bigint,
    dispatcher uuid, lease_until bigint, cancel_requested boolean NOT NULL DEFAULT false, result text,
    errors text[] NOT NULL DEFAULT '{{}}', trace_context text) WITH (fillfactor = {fillfactor});
CREATE TABLE p_ready (seq bigint PRIMARY KEY, queue text COLLATE "C" NOT NULL, priority bigint NOT NULL, run_at bigint NOT NULL);
CREATE INDEX p_ready_fifo ON p_ready (run_at, seq);
CREATE INDEX p_ready_priority ON p_ready (priority, run_at, seq);
CREATE INDEX p_ready_queue ON p_ready (queue, run_at, seq);
CREATE TABLE p_running (seq bigint PRIMARY KEY, dispatcher uuid NOT NULL, lease_until bigint NOT NULL);
CREATE INDEX p_running_dispatcher ON p_running (dispatcher);
CREATE TABLE p_finished (seq bigint PRIMARY KEY, state text NOT NULL, finished_at bigint NOT NULL);
CREATE INDEX p_finished_age ON p_finished (state, finished_at);
"""


SPLIT_FILL = """
WITH j AS (
  INSERT INTO p_jobs (id, queue, name, payload, state, priority, attempt, max_attempts, run_at, created_at)
  SELECT gen_random_uuid(), 'bench', 'spool.noop', json_build_object('i', i, 'pad', repeat('x', 100))::text, 'available', 0, 0, 3, i, i
  FROM generate_series(1, %s) AS i RETURNING seq, queue, priority, run_at)
INSERT INTO p_ready SELECT seq, queue, priority, run_at FROM j
"""
SPLIT_STEP = """
WITH ended AS (DELETE FROM p_running WHERE seq = ANY(%(seqs)s) AND dispatcher = %(d)s RETURNING seq),
finished AS (INSERT INTO p_finished SELECT seq, 'completed', 1 FROM ended),
completed AS (UPDATE p_jobs SET state = 'completed', finished_at = 1, lease_until = NULL, cancel_requested = false
              WHERE seq IN (SELECT seq FROM ended)),
taken AS (DELETE FROM p_ready WHERE seq = ANY(ARRAY(
              SELECT seq FROM p_ready ORDER BY run_at, seq LIMIT 50 FOR UPDATE SKIP LOCKED)) RETURNING seq),
held AS (INSERT INTO p_running SELECT seq, %(d)s, 2 FROM taken)
UPDATE p_jobs AS j SET state = 'running', attempt = j.attempt + 1, started_at = 1, dispatcher = %(d)s, lease_until = 2,
    cancel_requested = false WHERE j.seq IN (SELECT seq FROM taken)
RETURNING j.seq, j.id, j.dispatcher
"""


def step_binds(rows, dispatcher):
    return {"seqs": [r[0] for r in rows], "ids": [r[1] for r in rows], "ds": [r[2] for r in rows], "d": dispatcher}


def measure(url, jobs, setup, fill, step, table):
    """Runs `setup` and `fill`, then two connections' loops of `step` (`pg_limit.drain`); jobs/s."""
    with psycopg.connect(url, autocommit=True) as connection:
        for statement in setup:
            connection.execute(statement)
        connection.execute(fill, (jobs,))
        connection.execute("ANALYZE")
    seconds, _ = pg_limit.drain(url, 2, step, step_binds)
    with psycopg.connect(url, autocommit=True) as connection:
        completed = connection.execute(f"SELECT count(*) FROM {table} WHERE state = 'completed' AND attempt = 1").fetchone()[0]
    if completed != jobs:
        raise SystemExit(f"{completed} of {jobs} jobs completed once")
    return jobs / seconds


def remigrate(url, spool):
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    subprocess.run([spool, "queues", "list", "--store", url.replace("postgresql://", "postgres://", 1)], check=True,
                   capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["indexes", "completion", "split"])
    parser.add_argument("--postgres-url", required=True, help="a database of its own: its public schema is dropped")
    parser.add_argument("--spool", help="the spool binary that migrates the schema (indexes, completion)")
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    if opts.what != "split" and not opts.spool:
        parser.error(f"{opts.what} needs --spool")
    runs = {}
    for _ in range(opts.rounds):
        if opts.what == "indexes":
            for name, changes in INDEXES.items():
                remigrate(opts.postgres_url, opts.spool)
                runs.setdefault(name, []).append(measure(opts.postgres_url, opts.jobs, changes, FILL, BY_SEQ + CLAIM, "spool_jobs"))
        elif opts.what == "completion":
            for name, head in COMPLETIONS.items():
                remigrate(opts.postgres_url, opts.spool)
                runs.setdefault(name, []).append(measure(opts.postgres_url, opts.jobs, [], FILL, head + CLAIM, "spool_jobs"))
        else:
            for fillfactor in (100, 70, 50):
                runs.setdefault(f"split tables, fillfactor {fillfactor}", []).append(
                    measure(opts.postgres_url, opts.jobs, [split_schema(fillfactor)], SPLIT_FILL, SPLIT_STEP, "p_jobs"))
    for name, rates in runs.items():
        print(f"{name}: median {statistics.median(rates):.0f} jobs/s ({', '.join(f'{r:.0f}' for r in rates)})")


if __name__ == "__main__":
    main()
