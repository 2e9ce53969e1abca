"""Procrastinate on PostgreSQL (psycopg 3). Jobs go in through `Task.defer` on the app opened
synchronously (a psycopg connection pool; one call, one job), or `Task.batch_defer` in bulk (one
statement for all jobs). The schema is Procrastinate's own (`SchemaManager.apply_schema`), whose
trigger sends a NOTIFY per inserted job. The worker is `procrastinate worker` in a separate
process with `--listen-notify` (Procrastinate's default: woken by LISTEN/NOTIFY, the 5 s fetch
polling interval is only the fallback), `--concurrency` the process's share of the bench's, and
finished jobs kept as `succeeded` rows (the default, `--delete-jobs never`), logging at warning
(at info it logs two lines per job); the job is an async task, run on the worker's event loop
rather than in a thread."""
import os
import sys

from procrastinate import App, PsycopgConnector

import harness

URL = os.environ.get("BENCH_POSTGRES_URL", "")
app = App(connector=PsycopgConnector(conninfo=URL))


@app.task(name="bench.noop", queue="bench")
async def noop(payload, enqueued, out):
    harness.record(out, payload["i"], enqueued)


class Procrastinate(harness.Peer):
    name = "procrastinate"

    def __init__(self):
        app.open()
        self.connector = app.connector.get_sync_connector()
        installed = self.connector.execute_query_one("SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS installed")
        if not installed["installed"]:
            app.schema_manager.apply_schema()

    def enqueue(self, i, enqueued, out):
        noop.defer(payload=harness.payload(i), enqueued=enqueued, out=out)

    def enqueue_bulk(self, n, out):
        noop.batch_defer(*({"payload": harness.payload(i), "enqueued": 0.0, "out": out} for i in range(n)))

    def stored(self):
        return sum(q["todo"] for q in app.job_manager.list_queues(queue="bench"))

    def reset(self):
        self.connector.execute_query("TRUNCATE procrastinate_jobs CASCADE")

    def start_worker(self, concurrency, log):
        return harness.start_worker(
            [sys.executable, "-m", "procrastinate", "--log-level", "warning", "--app", "procrastinate_peer.app",
             "worker", "--queues", "bench", "--concurrency", str(concurrency), "--listen-notify"],
            {"BENCH_POSTGRES_URL": URL}, log)


if __name__ == "__main__":
    opts = harness.options()
    os.environ["BENCH_POSTGRES_URL"] = opts.postgres_url
    import procrastinate_peer  # the jobs under their importable name, as the worker sees them

    harness.run(procrastinate_peer.Procrastinate(), opts)
