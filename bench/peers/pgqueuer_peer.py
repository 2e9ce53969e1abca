"""PgQueuer on PostgreSQL. Jobs go in through PgQueuer's synchronous `SyncQueries.enqueue` on one
psycopg connection in autocommit (one INSERT per call; in bulk, one call with lists: one
statement for all jobs). The schema is PgQueuer's own (`Queries.install`, durable tables), so
every insert fires its trigger's NOTIFY. The worker is PgQueuer's own runner, `pgqueuer.run`
(what `pgq run` calls; that command fails on its --log-level option with the typer installed
here), in a separate process on one asyncpg connection, woken by LISTEN/NOTIFY (the 30 s
dequeue timeout is only the fallback poll). The job is an async entrypoint;
max_concurrent_tasks is the process's share of the concurrency and batch_size BENCH_PGQ_BATCH,
by default half of the share (at most PgQueuer's default of 10, since the limit must be at
least twice the batch). PgQueuer records completions in batches (its JobStatusLogBuffer: the
batch size or 0.1 s, whichever comes first), so a completion is durable up to 0.1 s after the
job ends; a job whose worker dies is picked again after its heartbeat timeout."""
import asyncio
import contextlib
import json
import os
import sys

import asyncpg
import psycopg
from pgqueuer import PgQueuer
from pgqueuer.adapters.persistence import qb
from pgqueuer.db import AsyncpgDriver, SyncPsycopgDriver
from pgqueuer.queries import Queries, SyncQueries

import harness

URL = os.environ.get("BENCH_POSTGRES_URL", "")


@contextlib.asynccontextmanager
async def create_pgqueuer():
    """The worker's factory, as `pgqueuer.run("pgqueuer_peer:create_pgqueuer")` loads it."""
    connection = await asyncpg.connect(URL)
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint("noop")
    async def noop(job):
        body = json.loads(job.payload)
        harness.record(body["out"], body["payload"]["i"], body["enqueued"])

    try:
        yield pgq
    finally:
        await connection.close()


async def install():
    connection = await asyncpg.connect(URL)
    try:
        queries = Queries(AsyncpgDriver(connection))
        if not await queries.schema_is_installed():
            await queries.install()
    finally:
        await connection.close()


def body(i, enqueued, out):
    return json.dumps({"payload": harness.payload(i), "enqueued": enqueued, "out": out}).encode()


class PgQueuerPeer(harness.Peer):
    name = "pgqueuer"

    def __init__(self):
        asyncio.run(install())
        self.connection = psycopg.connect(URL, autocommit=True)
        self.queries = SyncQueries(SyncPsycopgDriver(self.connection))
        self.builder = qb.QueryQueueBuilder()

    def enqueue(self, i, enqueued, out):
        self.queries.enqueue("noop", body(i, enqueued, out))

    def enqueue_bulk(self, n, out):
        self.queries.enqueue(["noop"] * n, [body(i, 0.0, out) for i in range(n)], [0] * n)

    def stored(self):
        return sum(s.count for s in self.queries.queue_size() if s.status == "queued")

    def reset(self):
        for query in (self.builder.build_truncate_queue_query(), self.builder.build_truncate_log_query(),
                      self.builder.build_truncate_log_statistics_query()):
            self.connection.execute(query)

    def start_worker(self, concurrency, log):
        batch = int(os.environ.get("BENCH_PGQ_BATCH") or max(1, min(10, concurrency // 2)))
        run = ("import asyncio, pgqueuer; asyncio.run(pgqueuer.run('pgqueuer_peer:create_pgqueuer',"
               f" batch_size={batch}, max_concurrent_tasks={max(concurrency, 2 * batch)}))")
        return harness.start_worker([sys.executable, "-c", run], {"BENCH_POSTGRES_URL": URL}, log)


if __name__ == "__main__":
    opts = harness.options()
    os.environ["BENCH_POSTGRES_URL"] = opts.postgres_url
    import pgqueuer_peer  # the jobs under their importable name, as the worker sees them

    harness.run(pgqueuer_peer.PgQueuerPeer(), opts)
