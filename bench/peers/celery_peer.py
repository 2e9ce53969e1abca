"""Celery with a Redis broker, no result backend. The worker is a separate process with a pool
of the bench's concurrency (no gossip, mingle or heartbeat chatter): BENCH_CELERY_POOL picks it
(threads, the default; gevent, Celery's advice for I/O-bound tasks; prefork), and
BENCH_CELERY_PREFETCH the prefetch multiplier (Celery's default 4). Celery acknowledges a
message when a worker takes it (its default `acks_late = False`): a job whose worker dies is lost."""
import os
import sys

import redis
from celery import Celery

import harness

PORT = int(os.environ.get("BENCH_REDIS_PORT", "6379"))
app = Celery("bench", broker=f"redis://127.0.0.1:{PORT}/0")
app.conf.task_ignore_result = True
app.conf.worker_hijack_root_logger = False
app.conf.broker_connection_retry_on_startup = True


@app.task(name="bench.noop")
def noop(payload, enqueued, out):
    harness.record(out, payload["i"], enqueued)


class CeleryPeer(harness.Peer):
    name = "celery"

    def __init__(self):
        self.redis = redis.Redis(port=PORT)

    def enqueue(self, i, enqueued, out):
        noop.delay(harness.payload(i), enqueued, out)

    def stored(self):
        return self.redis.llen("celery")

    def reset(self):
        self.redis.flushdb()

    def start_worker(self, concurrency, log):
        return harness.start_worker(
            [sys.executable, "-m", "celery", "-A", "celery_peer", "worker", "--pool", os.environ.get("BENCH_CELERY_POOL", "threads"),
             "-c", str(concurrency), "--prefetch-multiplier", os.environ.get("BENCH_CELERY_PREFETCH", "4"),
             "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"], {}, log)


if __name__ == "__main__":
    import celery_peer

    harness.run(celery_peer.CeleryPeer(), harness.options())
