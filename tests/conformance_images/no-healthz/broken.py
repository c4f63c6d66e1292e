"""Our Python runtime with GET /healthz answering 404 (broken on purpose).

An ASGI middleware in front of the runtime's own stack; everything else is unchanged.
"""

import sys


def main():
    from kubeless_runtime.cli import main as serve
    from kubeless_runtime.runtime import server

    make_app = server.make_app

    def broken_make_app(*args, **kwargs):
        app = make_app(*args, **kwargs)

        async def no_healthz(scope, receive, send):
            if scope["type"] == "http" and scope["path"] == "/healthz":
                body = b"no /healthz in this runtime\n"
                await send({"type": "http.response.start", "status": 404, "headers": [
                    (b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]})
                await send({"type": "http.response.body", "body": body})
                return
            await app(scope, receive, send)

        no_healthz.request_log = app.request_log
        return no_healthz

    server.make_app = broken_make_app
    return serve(["serve"])


if __name__ == "__main__":  # the guard matters: worker processes import this file too
    sys.exit(main())
