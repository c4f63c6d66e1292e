"""Our Python runtime exposing function_calls_total as function_invocations_total.

An ASGI middleware rewrites the /metrics text (still valid Prometheus text); everything else is
unchanged.
"""

import sys


def main():
    from kubeless_runtime.cli import main as serve
    from kubeless_runtime.runtime import server

    make_app = server.make_app

    def broken_make_app(*args, **kwargs):
        app = make_app(*args, **kwargs)

        async def renamed(scope, receive, send):
            if scope["type"] != "http" or scope["path"] != "/metrics":
                await app(scope, receive, send)
                return
            seen = {"body": b""}

            async def capture(message):
                if message["type"] == "http.response.start":
                    seen["start"] = message
                else:
                    seen["body"] += message.get("body", b"")

            await app(scope, receive, capture)
            body = seen["body"].replace(b"function_calls", b"function_invocations")
            headers = [(k, v) for k, v in seen["start"].get("headers", [])
                       if k.lower() != b"content-length"]
            headers.append((b"content-length", b"%d" % len(body)))
            await send(dict(seen["start"], headers=headers))
            await send({"type": "http.response.body", "body": body})

        renamed.request_log = app.request_log
        return renamed

    server.make_app = broken_make_app
    return serve(["serve"])


if __name__ == "__main__":  # the guard matters: worker processes import this file too
    sys.exit(main())
