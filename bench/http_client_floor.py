"""One keep-alive connection of Python's http.client against a server on 127.0.0.1:PORT, as
BENCHMARKS.md ("From Python") measures it: `http_client_floor.py PORT PATH COUNT [post|bad|get] [PID]`
sends COUNT requests after one untimed, and prints requests/s, the client's CPU per request and,
given the server's PID, the server's CPU per request (from /proc). A bearer token `tok` is sent
(start `spool serve` with SPOOL_TOKEN=tok); `post` enqueues a job, `bad` posts a body that is
not JSON, `get` asks for PATH."""
import http.client
import json
import os
import sys
import time

port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
kind = sys.argv[4] if len(sys.argv) > 4 else "post"
server = int(sys.argv[5]) if len(sys.argv) > 5 else None
headers = {"Content-Type": "application/json", "Authorization": "Bearer tok"}
body = b"not json" if kind == "bad" else json.dumps({"name": "bench.noop", "queue": "q", "payload": {"i": 1}}).encode()
connection = http.client.HTTPConnection("127.0.0.1", port)


def request():
    connection.request("GET" if kind == "get" else "POST", path, None if kind == "get" else body, headers)
    response = connection.getresponse()
    response.read()
    return response.status


def server_ticks():
    with open(f"/proc/{server}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


status = request()
ticks = server_ticks() if server else 0
started, cpu = time.time(), time.process_time()
for _ in range(count):
    request()
elapsed = time.time() - started
line = f"{count / elapsed:.0f} requests/s (status {status}), client CPU {(time.process_time() - cpu) / count * 1e6:.0f} µs a request"
if server:
    line += f", server CPU {(server_ticks() - ticks) / os.sysconf('SC_CLK_TCK') / count * 1e6:.0f} µs a request"
print(line)
