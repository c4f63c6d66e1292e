"""Our Python runtime that drops the event-* request headers before building the event.

An ASGI middleware removes them from the request; everything else is unchanged.
"""

import sys

EVENT_HEADERS = (b"event-id", b"event-type", b"event-time", b"event-namespace")


def main():
    from kubeless_runtime.cli import main as serve
    from kubeless_runtime.runtime import server

    make_app = server.make_app

    def broken_make_app(*args, **kwargs):
        app = make_app(*args, **kwargs)

        async def drop_event_headers(scope, receive, send):
            if scope["type"] == "http":
                scope = dict(scope, headers=[(k, v) for k, v in scope["headers"]
                                             if k.lower() not in EVENT_HEADERS])
            await app(scope, receive, send)

        drop_event_headers.request_log = app.request_log
        return drop_event_headers

    server.make_app = broken_make_app
    return serve(["serve"])


if __name__ == "__main__":  # the guard matters: worker processes import this file too
    sys.exit(main())
