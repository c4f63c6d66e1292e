"""A tiny custom runtime: /healthz answers 200, every other path answers a fixed text.

What a custom image needs for the conformance suite's level custom: listen on $FUNC_PORT
(8080), answer /healthz, serve requests in parallel with a real listen backlog, and stop on
SIGTERM (as PID 1 a process without a SIGTERM handler ignores it).
"""

import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"OK" if self.path == "/healthz" else b"custom runtime\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stdout.write(f"{self.client_address[0]} - - [{self.log_date_time_string()}] "
                         f"{fmt % args}\n")
        sys.stdout.flush()


class Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


def main():
    server = Server(("0.0.0.0", int(os.environ.get("FUNC_PORT") or 8080)), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
