"""Checks the X-Spool-Signature of requests sent by Spool's `spool.http` jobs (docs/http-jobs.md).

As a library, with the standard library only:

    verifier = Verifier({"main": b"the shared secret"})
    reason = verifier.check(header, method, target, body)   # None if accepted, else why not

As a tiny worker app (what Spool's tests run): `SPOOL_HTTP_SECRET=main:SECRET python3 verify.py PORT`
answers every request 200 with a JSON account of what it accepted, or 403 with the reason.
"""
import collections
import hashlib
import hmac
import json
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_BODY = 16 << 20


def parse_secrets(text):
    """SPOOL_HTTP_SECRET: ID:SECRET[,ID:SECRET...] or one secret alone (key id "default")."""
    entries = [entry.strip() for entry in text.split(",")]
    if len(entries) == 1 and ":" not in entries[0]:
        return {"default": entries[0].encode()}
    return {key: secret.encode() for key, secret in (entry.split(":", 1) for entry in entries)}


class Verifier:
    def __init__(self, secrets, window=300, capacity=100_000):
        self.secrets = secrets
        self.window = window
        self.capacity = capacity
        self.nonces = collections.OrderedDict()  # "key:nonce" -> expiry

    def check(self, header, method, target, body, now=None):
        now = int(time.time()) if now is None else now
        if header is None:
            return "missing X-Spool-Signature"
        fields = {}
        for part in header.split(","):
            name, equals, value = part.strip().partition("=")
            if not equals or name in fields:
                return "malformed X-Spool-Signature"
            fields[name] = value
        if fields.get("v") != "1" or not KEY_ID.match(fields.get("k", "")) or not fields.get("t", "").isdigit() \
                or not NONCE.match(fields.get("n", "")) or not re.fullmatch(r"[0-9a-f]{64}", fields.get("s", "")):
            return "malformed X-Spool-Signature"
        secret = self.secrets.get(fields["k"])
        if secret is None:
            return "unknown key id '%s'" % fields["k"]
        timestamp = int(fields["t"])
        if abs(timestamp - now) > self.window:
            return "expired"
        text = "\n".join(["spool-http-v1", fields["t"], fields["n"], method.upper(), target,
                          hashlib.sha256(body).hexdigest()])
        expected = hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields["s"]):
            return "wrong signature"
        while self.nonces and (next(iter(self.nonces.values())) <= now or len(self.nonces) >= self.capacity):
            self.nonces.popitem(last=False)
        nonce = fields["k"] + ":" + fields["n"]
        if self.nonces.get(nonce, 0) > now:
            return "replayed"
        self.nonces[nonce] = timestamp + self.window
        return None


def serve(port, verifier):
    class Handler(BaseHTTPRequestHandler):
        def answer(self):
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:   # bound what a peer may make us read
                self.send_error(413 if length > MAX_BODY else 400)
                return
            body = self.rfile.read(length)
            reason = verifier.check(self.headers.get("X-Spool-Signature"), self.command, self.path, body)
            status, text = (403, reason) if reason else (200, json.dumps({
                "accepted": True, "method": self.command, "target": self.path,
                "task": self.headers.get("X-Spool-Task"), "job": self.headers.get("X-Spool-Job"),
                "body": body.decode("utf-8", "replace")}))
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), Verifier(parse_secrets(os.environ["SPOOL_HTTP_SECRET"])))
