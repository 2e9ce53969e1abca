"""Sidekiq (Debian's ruby-sidekiq) on Redis. The client calls run in Ruby (sidekiq_jobs.rb),
which times them itself; the worker is `sidekiq` with as many threads as the concurrency."""
import os
import subprocess

import redis

import harness

PORT = int(os.environ.get("BENCH_REDIS_PORT", "6379"))
HERE = os.path.dirname(os.path.abspath(__file__))
ENV = dict(os.environ, REDIS_URL=f"redis://127.0.0.1:{PORT}/0")


def ruby(*args):
    return subprocess.run(["ruby", os.path.join(HERE, "sidekiq_jobs.rb"), *map(str, args)], env=ENV, check=True,
                          capture_output=True, text=True).stdout.strip()


class Sidekiq(harness.Peer):
    name = "sidekiq"

    def __init__(self):
        self.redis = redis.Redis(port=PORT)

    def single(self, n, out):
        return float(ruby("single", n, out))

    def bulk(self, n, out):
        return float(ruby("bulk", n, out))

    def fill(self, n, out):
        ruby("fill", n, out)

    def paced(self, rate, duration, out):
        ruby("paced", rate, duration, out)

    def probe(self, out):
        ruby("probe", out)

    def stored(self):
        return int(ruby("stored"))

    def reset(self):
        self.redis.flushdb()

    def start_worker(self, concurrency, log):
        return harness.start_worker(["sidekiq", "-r", os.path.join(HERE, "sidekiq_jobs.rb"), "-q", "bench",
                                     "-c", str(concurrency)], {"REDIS_URL": ENV["REDIS_URL"]}, log)


if __name__ == "__main__":
    harness.run(Sidekiq(), harness.options())
