"""Spool driven from Python over HTTP: `spool serve --no-worker` on a fresh SQLite file in
BENCH_DIR (a random loopback port, a bearer token), enqueued with the standard library's
`http.client` over one keep-alive connection, as a Python application would call it. W1 only:
single is one `POST /v1/jobs` per job, bulk posts 1,000 jobs per request (`{"jobs": [...]}`).
BENCH_SPOOL names the spool binary; BENCH_DURABILITY is the store's --durability."""
import http.client
import json
import os
import secrets
import socket
import subprocess
import time

import harness

BATCH = 1000


class SpoolHTTP(harness.Peer):
    name = "spool-http"

    def __init__(self, directory):
        self.token = secrets.token_hex(16)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        store = "sqlite:" + os.path.join(directory, "spool.db")
        env = dict(os.environ, SPOOL_TOKEN=self.token)
        self.log = open(os.path.join(directory, "serve.log"), "ab")
        self.server = subprocess.Popen(
            [os.environ["BENCH_SPOOL"], "serve", "--no-worker", "--store", store, "--listen", f"127.0.0.1:{self.port}",
             "--durability", os.environ.get("BENCH_DURABILITY", "normal")],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.headers = {"Content-Type": "application/json", "Authorization": "Bearer " + self.token}
        self.round = 0
        deadline = time.time() + 30
        while True:
            try:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port)
                self.call("GET", "/v1/queues")
                break
            except OSError:
                if time.time() > deadline or self.server.poll() is not None:
                    raise RuntimeError("spool serve did not answer within 30 s; see serve.log")
                time.sleep(0.05)
        self.reset()

    def call(self, method, path, body=None):
        self.connection.request(method, path, body, self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return data

    def job(self, i, enqueued):
        return {"name": "bench.noop", "queue": self.queue, "payload": dict(harness.payload(i), enqueued=enqueued)}

    def enqueue(self, i, enqueued, out):
        self.call("POST", "/v1/jobs", json.dumps(self.job(i, enqueued)).encode())

    def enqueue_bulk(self, n, out):
        for start in range(0, n, BATCH):
            now = time.time()
            jobs = [self.job(i, now) for i in range(start, min(n, start + BATCH))]
            self.call("POST", "/v1/jobs", json.dumps({"jobs": jobs}).encode())

    def stored(self):
        queues = json.loads(self.call("GET", "/v1/queues"))["queues"]
        return sum(sum(q.get("counts", {}).values()) for q in queues if q["name"] == self.queue)

    def reset(self):
        """A fresh queue for each measurement (the jobs stay: no worker runs them)."""
        self.round += 1
        self.queue = f"bench-{self.round}"

    def stop(self):
        self.server.terminate()
        self.server.wait(timeout=20)


if __name__ == "__main__":
    options = harness.options()
    peer = SpoolHTTP(options.dir)
    try:
        harness.run(peer, options)
    finally:
        peer.stop()
