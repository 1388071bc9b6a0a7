"""statuspage: a small status page. Python 3 standard library only.

GET  /             -> HTML page: title, systems, the current message
GET  /api/status   -> the same as JSON
GET  /health       -> 200 "ok"
POST /api/message  -> sets the message (body: text) with
                      "Authorization: Bearer $STATUS_ADMIN_TOKEN"

Listens on $PORT on $HOST (127.0.0.1 by default).
"""
import hmac
import html
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STARTED = time.time()
STATE = {"message": "All systems operational", "updated": STARTED}
LOCK = threading.Lock()


def status():
    systems = [s.strip() for s in os.environ.get("STATUS_SYSTEMS", "").split(",") if s.strip()]
    with LOCK:
        message, updated = STATE["message"], STATE["updated"]
    return {
        "title": os.environ.get("STATUS_TITLE", "System status"),
        "app": os.environ.get("DFLOW_APP", "statuspage"),
        "instance": os.environ.get("DFLOW_INSTANCE_ID", "unknown"),
        "release": os.environ.get("DFLOW_RELEASE", "unknown"),
        "url": os.environ.get("STATUS_PUBLIC_URL", ""),
        "systems": systems,
        "message": message,
        "updated": int(updated),
        "uptime_seconds": int(time.time() - STARTED),
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "statuspage/1"

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, "text/plain", "ok\n")
        elif self.path == "/api/status":
            self.reply(200, "application/json", json.dumps(status()) + "\n")
        elif self.path == "/":
            s = status()
            rows = "".join(f"<li>{html.escape(n)}: operational</li>" for n in s["systems"])
            page = (f"<!doctype html><title>{html.escape(s['title'])}</title>"
                    f"<h1>{html.escape(s['title'])}</h1><p>{html.escape(s['message'])}</p>"
                    f"<ul>{rows}</ul><small>{html.escape(s['app'])} {html.escape(s['release'])}"
                    "</small>\n")
            self.reply(200, "text/html; charset=utf-8", page)
        else:
            self.reply(404, "text/plain", "not found\n")

    def do_POST(self):
        if self.path != "/api/message":
            self.reply(404, "text/plain", "not found\n")
            return
        token = os.environ.get("STATUS_ADMIN_TOKEN", "")
        given = self.headers.get("Authorization", "")
        if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            self.reply(401, "text/plain", "unauthorized\n")
            return
        length = min(int(self.headers.get("Content-Length", "0") or 0), 4096)
        text = self.rfile.read(length).decode("utf-8", "replace").strip()
        with LOCK:
            STATE["message"], STATE["updated"] = text or STATE["message"], time.time()
        self.reply(200, "application/json", json.dumps(status()) + "\n")

    def reply(self, code, ctype, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def main():
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer((os.environ.get("HOST", "127.0.0.1"), port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"statuspage listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
