"""One thread, listen backlog 5 (http.server's defaults); everything else a custom image needs.

Broken on purpose: 50 simultaneous connections overflow the backlog, the kernel drops what it
cannot queue and the clients retry after 1 s, 3 s, 7 s.
"""

import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"OK" if self.path == "/healthz" else b"small backlog\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stdout.write(f"{self.client_address[0]} - - [{self.log_date_time_string()}] "
                         f"{fmt % args}\n")
        sys.stdout.flush()


def main():
    server = HTTPServer(("0.0.0.0", int(os.environ.get("FUNC_PORT") or 8080)), Handler)
    assert server.request_queue_size == 5
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
