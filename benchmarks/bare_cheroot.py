"""The ceiling for a Python HTTP server on this machine: cheroot with a trivial WSGI app.

Same server, thread count and queue size as the runtime, none of its work (no
routing, logging, metrics or worker processes). GET answers "hello"; any other
method reads the body and echoes it, as the runtime's echo function does.

    python benchmarks/bare_cheroot.py PORT
"""

import signal
import sys

from cheroot.wsgi import Server


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    body = body or b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


def main() -> None:
    server = Server(("127.0.0.1", int(sys.argv[1])), app, numthreads=10,
                    request_queue_size=128)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # safe_start stops on SystemExit
    server.safe_start()


if __name__ == "__main__":
    main()
