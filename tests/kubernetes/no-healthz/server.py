"""Answers every path but /healthz, which is 404: a liveness probe on it always fails."""

import http.server
import os
import signal
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        status = 404 if self.path == "/healthz" else 200
        body = b"no /healthz here\n" if status == 404 else b"hello\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET


# PID 1 gets no default SIGTERM handler: without this a pod waits out its grace period.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.ThreadingHTTPServer(("", int(os.environ.get("FUNC_PORT", "8080"))),
                                Handler).serve_forever()
