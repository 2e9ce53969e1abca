"""A web application in the seed's shape, for Spool's push test: a page where a signed-in user
asks for a preview; the app enqueues a spool.http job with the user's cookie through
POST /v1/http-jobs; the job calls this same app (an ordinary copy of it as the worker app),
which checks Spool's signature and the forwarded cookie and answers with X-Spool-Fragment; the
page, watching the job with Spool's /push.js, shows the fragment without a reload.

Run: SPOOL_URL=http://127.0.0.1:P SPOOL_TOKEN=... SPOOL_HTTP_SECRET=main:... python3 webapp.py PORT
Standard library only; the signature check is the documentation's verify.py.
"""
import html
import json
import os
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "http-jobs"))
from verify import Verifier, parse_secrets  # noqa: E402

SPOOL = os.environ["SPOOL_URL"]
TOKEN = os.environ.get("SPOOL_TOKEN")
VERIFIER = Verifier(parse_secrets(os.environ["SPOOL_HTTP_SECRET"]))
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Workspace</title></head>
<body>
<h1>Workspace of {user}</h1>
<button id="upload">Upload report</button>
<div id="preview">no preview yet</div>
<ul id="jobs"></ul>
<script src="{spool}/push.js"></script>
<script>
document.getElementById("upload").onclick = function () {{
  fetch("/previews", {{method: "POST", credentials: "same-origin",
                       headers: {{"Content-Type": "application/x-www-form-urlencoded"}}, body: "title=Q3+report"}})
    .then(function (r) {{ return r.json(); }})
    .then(function (job) {{
      var item = document.createElement("li");
      item.setAttribute("data-spool-job", job.id);
      item.setAttribute("data-spool-token", job.subscribeToken);
      item.setAttribute("data-spool-target", "#preview");
      item.textContent = "rendering " + job.id;
      document.getElementById("jobs").appendChild(item);
      window.SpoolPush.watch(item);
    }});
}};
</script>
</body></html>
"""


class Handler(BaseHTTPRequestHandler):
    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= 1 << 20:
            raise ValueError("body too large")
        return self.rfile.read(length)

    def send(self, status, content_type, data, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def user(self):
        cookies = dict(part.strip().split("=", 1) for part in (self.headers.get("Cookie") or "").split(";") if "=" in part)
        return cookies.get("session")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/":
            page = PAGE.format(user="alice", spool=SPOOL).encode()
            self.send(200, "text/html; charset=utf-8", page, [("Set-Cookie", "session=alice; Path=/; HttpOnly")])
        elif url.path.startswith("/fragments/"):
            query = urllib.parse.parse_qs(url.query)
            user = self.user() or "nobody"
            title = query.get("title", ["?"])[0]
            fragment = '<p class="done">Preview of %s for %s</p>' % (html.escape(title), html.escape(user))
            self.send(200, "text/html; charset=utf-8", fragment.encode())
        else:
            self.send(404, "text/plain", b"not found")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.body()
        if url.path == "/previews":
            # The web app's own request handler: enqueue the work as this user.
            fields = urllib.parse.parse_qs(body.decode())
            host = self.headers.get("Host")
            job = {"request": {"method": "POST", "url": "http://%s/work/render" % host,
                               "form": {"fields": {"title": fields.get("title", ["untitled"])[0]}},
                               "cookieHeader": self.headers.get("Cookie") or "", "task": "previews.render"},
                   "queue": "previews"}
            request = urllib.request.Request(SPOOL + "/v1/http-jobs", data=json.dumps(job).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            if TOKEN:
                request.add_header("Authorization", "Bearer " + TOKEN)
            with urllib.request.urlopen(request) as answer:
                enqueued = json.load(answer)
            data = json.dumps({"id": enqueued["id"], "subscribeToken": enqueued["subscribeToken"]}).encode()
            self.send(200, "application/json", data)
        elif url.path == "/work/render":
            # The same app as the worker app: only Spool's signed requests, as the user who asked.
            reason = VERIFIER.check(self.headers.get("X-Spool-Signature"), self.command, self.path, body)
            if reason:
                self.send(403, "text/plain", reason.encode())
                return
            if self.user() != "alice":
                self.send(401, "text/plain", b"the user's session cookie did not arrive")
                return
            title = urllib.parse.parse_qs(body.decode()).get("title", ["?"])[0]
            fragment = "/fragments/%s?%s" % (self.headers.get("X-Spool-Job"), urllib.parse.urlencode({"title": title}))
            self.send(200, "text/plain", b"rendered", [("X-Spool-Fragment", fragment)])
        else:
            self.send(404, "text/plain", b"not found")

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
