"""hello: the smallest dflow app. Python 3 standard library only.

GET /        -> "<GREETING> from <instance> (release <release>)" and, with
                ?format=json or "Accept: application/json", the same as JSON
GET /health  -> 200 "ok"

Listens on $PORT (set by dflow) on $HOST, 127.0.0.1 by default.
"""
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
RELEASE_MARKER = os.path.join(HERE, ".release-phase")


def facts():
    release_phase = None
    try:
        with open(RELEASE_MARKER, encoding="utf-8") as f:
            release_phase = f.read().strip()
    except OSError:
        pass
    return {
        "greeting": os.environ.get("GREETING", "hello"),
        "instance": os.environ.get("DFLOW_INSTANCE_ID", "unknown"),
        "release": os.environ.get("DFLOW_RELEASE", "unknown"),
        "release_phase": release_phase,
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "hello/1"

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/health":
            self.reply(200, "text/plain", "ok\n")
        elif url.path == "/":
            f = facts()
            wants_json = parse_qs(url.query).get("format") == ["json"] or (
                "application/json" in self.headers.get("Accept", ""))
            if wants_json:
                self.reply(200, "application/json", json.dumps(f) + "\n")
            else:
                self.reply(200, "text/plain",
                           f"{f['greeting']} from {f['instance']} (release {f['release']})\n")
        else:
            self.reply(404, "text/plain", "not found\n")

    def reply(self, code, content_type, body):
        data = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", content_type + "; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        # One line per request on stdout, which dflow keeps as the instance's log.
        print(f"{self.address_string()} {fmt % args}", flush=True)


def main():
    host = os.environ.get("HOST", "127.0.0.1")
    port_text = os.environ.get("PORT", "")
    if not port_text.isdigit():
        print("hello: PORT is not set to a port number; dflow sets it", file=sys.stderr)
        return 2
    server = ThreadingHTTPServer((host, int(port_text)), Handler)
    # A clean exit on SIGTERM, as dflow stops instances with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"hello: listening on {host}:{port_text} as {facts()['instance']}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
