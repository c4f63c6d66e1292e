"""Our Python runtime with GET /healthz answering 404 (broken on purpose).

A WSGI middleware in front of the runtime's own stack; everything else is unchanged.
"""

import sys


def main():
    from kubeless_runtime import server
    from kubeless_runtime.cli import main as serve

    make_wsgi = server.make_wsgi

    def broken_make_wsgi(*args, **kwargs):
        app = make_wsgi(*args, **kwargs)

        def no_healthz(environ, start_response):
            if environ.get("PATH_INFO") == "/healthz":
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"no /healthz in this runtime\n"]
            return app(environ, start_response)

        no_healthz.flush = getattr(app, "flush", None)
        return no_healthz

    server.make_wsgi = broken_make_wsgi
    return serve(["serve"])


if __name__ == "__main__":  # the guard matters: worker processes import this file too
    sys.exit(main())
