"""The ceiling for an event-driven Python server here: a constant from a raw ASGI app.

GET answers "hello"; any other method echoes the body, as bare_cheroot.py does.
``uvicorn`` runs it as the runtime does (httptools, uvloop, one process, no
access log); ``granian`` runs it on granian's Rust HTTP stack, the alternative
the runtime was compared with.

    python benchmarks/bare_asgi.py uvicorn|granian PORT
"""

import sys


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    body = body or b"hello"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    server, port = sys.argv[1], int(sys.argv[2])
    if server == "uvicorn":
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", loop="uvloop",
                    access_log=False, log_level="warning", lifespan="off")
    else:
        from granian import Granian

        Granian("bare_asgi:app", address="127.0.0.1", port=port, interface="asgi",
                workers=1, log_enabled=False).serve()


if __name__ == "__main__":
    main()
