"""Celery + requests doing what a spool.http job does: each job is a POST of {"i": n} to the
no-op worker app (`spool bench-app`), signed as docs/http-jobs.md describes (HMAC-SHA256 with
SPOOL_HTTP_SECRET, a fresh nonce per request), over a keep-alive requests.Session per worker
thread (or greenlet, or process). Redis broker, no result backend; the pool is BENCH_CELERY_POOL
(threads, gevent or prefork) with the bench's concurrency."""
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
from urllib.parse import urlsplit

import requests

import harness
from celery_peer import CeleryPeer, app

URL = os.environ.get("BENCH_HTTP_URL", "")
TARGET = urlsplit(URL).path or "/"
KEY_ID, _, SECRET = os.environ.get("SPOOL_HTTP_SECRET", "bench:secret").partition(":")
local = threading.local()


def signature(method, target, body):
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    text = "\n".join(["spool-http-v1", timestamp, nonce, method, target, hashlib.sha256(body).hexdigest()])
    mac = hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
    return f"v=1,k={KEY_ID},t={timestamp},n={nonce},s={mac}"


@app.task(name="bench.http")
def call(payload, enqueued, out):
    session = getattr(local, "session", None)
    if session is None:
        session = local.session = requests.Session()
    body = json.dumps({"i": payload["i"]}).encode()
    answer = session.post(URL, data=body, timeout=30, headers={
        "Content-Type": "application/json", "X-Spool-Signature": signature("POST", TARGET, body),
        "X-Spool-Task": "bench", "X-Spool-Job": str(payload["i"]), "X-Spool-Attempt": "1"})
    answer.raise_for_status()
    harness.record(out, payload["i"], enqueued)


class CeleryHTTPPeer(CeleryPeer):
    name = "celery-http"

    def enqueue(self, i, enqueued, out):
        call.delay(harness.payload(i), enqueued, out)

    def start_worker(self, concurrency, log):
        # BENCH_CELERY_POOL: threads (default), gevent (Celery's advice for I/O-bound tasks) or prefork.
        pool = os.environ.get("BENCH_CELERY_POOL", "threads")
        return harness.start_worker(
            [sys.executable, "-m", "celery", "-A", "celery_http_peer", "worker", "--pool", pool, "-c", str(concurrency),
             "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"], {}, log)


if __name__ == "__main__":
    import celery_http_peer

    harness.run(celery_http_peer.CeleryHTTPPeer(), harness.options())
