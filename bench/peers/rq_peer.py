"""RQ on Redis. Enqueue one call per job, or `enqueue_many` (one pipeline) in bulk. The worker
is `rq worker-pool` with as many SimpleWorker processes (no fork per job) as the concurrency."""
import os
import sys

import redis
from rq import Queue

import harness

PORT = int(os.environ.get("BENCH_REDIS_PORT", "6379"))


def noop(payload, enqueued, out):
    harness.record(out, payload["i"], enqueued)


class RQPeer(harness.Peer):
    name = "rq"

    def __init__(self):
        self.redis = redis.Redis(port=PORT)
        self.queue = Queue("bench", connection=self.redis)

    def enqueue(self, i, enqueued, out):
        self.queue.enqueue(noop, harness.payload(i), enqueued, out)

    def enqueue_bulk(self, n, out):
        self.queue.enqueue_many([Queue.prepare_data(noop, (harness.payload(i), 0.0, out)) for i in range(n)])

    def stored(self):
        return self.queue.count

    def reset(self):
        self.redis.flushdb()

    def start_worker(self, concurrency, log):
        return harness.start_worker(
            [sys.executable, "-m", "rq.cli", "worker-pool", "-n", str(concurrency), "-w", "rq.worker.SimpleWorker",
             "-u", f"redis://127.0.0.1:{PORT}/0", "-q", "bench"], {}, log)


if __name__ == "__main__":
    import rq_peer

    harness.run(rq_peer.RQPeer(), harness.options())
