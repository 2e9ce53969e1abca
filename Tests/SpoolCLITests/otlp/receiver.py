"""A small OTLP/HTTP receiver for Spool's tests: answers POST /v1/traces with 200 and appends
each request's spans (JSON encoding), one JSON object per line, to the file named by its first
argument; a protobuf request (the exporters' default) is appended as one line with its body in
hex, for a test to find ids and names in; prints the port it listens on (loopback, chosen by the system) and serves until killed.
Trace and span ids are written as lowercase hex whichever way the exporter encoded them (the
OTLP JSON mapping says hex; protobuf's JSON mapping says base64)."""
import base64
import binascii
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUTPUT = sys.argv[1]
HEX = re.compile(r"^[0-9a-fA-F]+$")


def hex_id(value, size):
    if not value:
        return ""
    if len(value) == size * 2 and HEX.match(value):
        return value.lower()
    return binascii.hexlify(base64.b64decode(value)).decode()


def attributes(items):
    out = {}
    for item in items or []:
        value = item.get("value", {})
        out[item["key"]] = next(iter(value.values()), None) if value else None
    return out


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        lines = []
        if self.path == "/v1/traces" and "protobuf" in self.headers.get("Content-Type", ""):
            lines.append({"protobuf": binascii.hexlify(body).decode()})
        elif self.path == "/v1/traces":
            document = json.loads(body or b"{}")
            for resource_spans in document.get("resourceSpans", []):
                resource = attributes(resource_spans.get("resource", {}).get("attributes"))
                for scope_spans in resource_spans.get("scopeSpans", []):
                    for span in scope_spans.get("spans", []):
                        lines.append({
                            "service": resource.get("service.name"),
                            "name": span.get("name"),
                            "traceId": hex_id(span.get("traceId"), 16),
                            "spanId": hex_id(span.get("spanId"), 8),
                            "parentSpanId": hex_id(span.get("parentSpanId"), 8),
                            "links": [{"traceId": hex_id(link.get("traceId"), 16), "spanId": hex_id(link.get("spanId"), 8)}
                                      for link in span.get("links", [])],
                            "attributes": attributes(span.get("attributes")),
                        })
        with open(OUTPUT, "a") as output:
            for line in lines:
                output.write(json.dumps(line) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
