"""Huey with its SQLite storage: the embedded peer. The consumer is a separate process with
workers of the kind BENCH_HUEY_WORKER names (thread, the default, or process), polling every
millisecond without backoff (Huey's lowest-latency setting). Huey deletes a task's row when a
consumer takes it: a task whose consumer dies is lost.
BENCH_DURABILITY=normal turns fsync off (like Spool's normal, a WAL commit survives a killed
process but not a power loss); full keeps SQLite's default, a sync per commit."""
import os
import sys

from huey import SqliteHuey

import harness

huey = SqliteHuey("bench", filename=os.path.join(os.environ.get("BENCH_DIR", "."), "huey.db"),
                  fsync=os.environ.get("BENCH_DURABILITY", "normal") == "full")


@huey.task()
def noop(payload, enqueued, out):
    harness.record(out, payload["i"], enqueued)


class Huey(harness.Peer):
    name = "huey"

    def enqueue(self, i, enqueued, out):
        noop(harness.payload(i), enqueued, out)

    def stored(self):
        return huey.pending_count()

    def reset(self):
        huey.flush()

    def start_worker(self, concurrency, log):
        return harness.start_worker(
            [sys.executable, "-m", "huey.bin.huey_consumer", "huey_peer.huey", "-w", str(concurrency), "-k", os.environ.get("BENCH_HUEY_WORKER", "thread"),
             "-d", "0.001", "-m", "0.001", "-b", "1", "-q", "-C"], {}, log)


if __name__ == "__main__":
    import huey_peer  # the jobs under their importable name, as the consumer sees them

    harness.run(huey_peer.Huey(), harness.options())
