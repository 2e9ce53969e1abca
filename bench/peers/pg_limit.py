"""What PostgreSQL itself allows a job queue on this machine: W2 with no job system at all.

A lean jobs table (identity key, queue, state, priority, run time, attempt, payload, result,
finish time; one partial index over the available jobs in claim order) is filled with
--jobs rows in one statement. Then --connections processes, one psycopg connection each in
autocommit, loop over one statement per round trip: it records the previous batch's jobs as
completed and claims the next --batch available jobs (`FOR UPDATE SKIP LOCKED` in claim
order, then `state = 'running'`), as a worker that makes each completion durable before its
next claim must. The jobs do nothing. The figure is every job from the first claim to the
last completion, in jobs per second; a check counts the completed rows.

    pg_limit.py --postgres-url URL [--jobs 20000] [--connections 1,2,4] [--batch 10,50,100]

Prints one JSON line: a result per (connections, batch), each with its jobs/s.
"""
import argparse
import functools
import json
import multiprocessing
import time
import uuid

import psycopg

TABLE = "bench_limit_jobs"
PAD = "x" * 100

SCHEMA = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue text COLLATE "C" NOT NULL,
    state text NOT NULL,
    priority int NOT NULL DEFAULT 0,
    run_at timestamptz NOT NULL,
    attempt int NOT NULL DEFAULT 0,
    payload text NOT NULL,
    result text,
    finished_at timestamptz
);
CREATE INDEX {TABLE}_available ON {TABLE} (run_at, id) WHERE state = 'available';
"""

FILL = f"""
INSERT INTO {TABLE} (queue, state, run_at, payload)
SELECT 'bench', 'available', now(), json_build_object('i', i, 'pad', %s::text)::text FROM generate_series(1, %s) AS i
"""

STEP = f"""
WITH done AS (
    UPDATE {TABLE} SET state = 'completed', finished_at = now() WHERE id = ANY(%(done)s) AND state = 'running'),
next AS (
    SELECT id FROM {TABLE} WHERE state = 'available' ORDER BY run_at, id LIMIT %(batch)s FOR UPDATE SKIP LOCKED)
UPDATE {TABLE} AS j SET state = 'running', attempt = j.attempt + 1 FROM next WHERE j.id = next.id
RETURNING j.id, j.payload
"""


def loop(url, step, binds, start, steps_out):
    """One connection's loop of `step` until it returns no rows; `binds(rows, dispatcher)` gives
    each round trip's parameters from the rows of the one before."""
    dispatcher = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT 1")
        start.wait()
        rows, steps = [], 0
        while True:
            try:
                rows = connection.execute(step, binds(rows, dispatcher), prepare=True).fetchall()
            except psycopg.errors.DeadlockDetected:
                # PostgreSQL rolled the whole statement back (its completions and its claim):
                # the same step again, as a worker would.
                continue
            steps += 1
            if not rows:
                break
        steps_out.put(steps)


def drain(url, connections, step, binds):
    """`connections` processes looping over `step` side by side, started together once all
    have connected; the seconds until the last finished and the round trips of all."""
    start, steps_out = multiprocessing.Event(), multiprocessing.Queue()
    processes = [multiprocessing.Process(target=loop, args=(url, step, binds, start, steps_out)) for _ in range(connections)]
    for p in processes:
        p.start()
    time.sleep(0.5)  # every process connected
    began = time.perf_counter()
    start.set()
    for p in processes:
        p.join()
    seconds = time.perf_counter() - began
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise SystemExit(f"pg_limit.py: {len(failed)} of {connections} connections' loops failed (exit codes {failed})")
    return seconds, sum(steps_out.get() for _ in processes)


def step_binds(batch, rows, _dispatcher):
    return {"done": [row[0] for row in rows], "batch": batch}


def run(url, jobs, connections, batch):
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(SCHEMA)
        connection.execute(FILL, (PAD, jobs))
        connection.execute(f"ANALYZE {TABLE}")
    seconds, steps = drain(url, connections, STEP, functools.partial(step_binds, batch))
    with psycopg.connect(url, autocommit=True) as connection:
        completed = connection.execute(f"SELECT count(*) FROM {TABLE} WHERE state = 'completed' AND attempt = 1").fetchone()[0]
        connection.execute(f"DROP TABLE {TABLE}")
    return {"workload": "limit", "connections": connections, "batch": batch, "jobs": jobs, "seconds": seconds,
            "perSecond": jobs / seconds, "steps": steps, "lost": jobs - completed, "duplicated": 0}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--connections", default="1,2,4")
    parser.add_argument("--batch", default="10,50,100")
    opts = parser.parse_args()
    results = [run(opts.postgres_url, opts.jobs, int(c), int(b))
               for c in opts.connections.split(",") for b in opts.batch.split(",")]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
