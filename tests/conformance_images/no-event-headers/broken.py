"""Our Python runtime that drops the event-* request headers before building the event.

A WSGI middleware removes them from the request; everything else is unchanged.
"""

import sys

EVENT_HEADERS = ("HTTP_EVENT_ID", "HTTP_EVENT_TYPE", "HTTP_EVENT_TIME", "HTTP_EVENT_NAMESPACE")


def main():
    from kubeless_runtime import server
    from kubeless_runtime.cli import main as serve

    make_wsgi = server.make_wsgi

    def broken_make_wsgi(*args, **kwargs):
        app = make_wsgi(*args, **kwargs)

        def drop_event_headers(environ, start_response):
            for name in EVENT_HEADERS:
                environ.pop(name, None)
            return app(environ, start_response)

        drop_event_headers.flush = getattr(app, "flush", None)
        return drop_event_headers

    server.make_wsgi = broken_make_wsgi
    return serve(["serve"])


if __name__ == "__main__":  # the guard matters: worker processes import this file too
    sys.exit(main())
