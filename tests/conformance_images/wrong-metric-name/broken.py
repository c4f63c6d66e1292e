"""Our Python runtime exposing function_calls_total as function_invocations_total.

A WSGI middleware rewrites the /metrics text (still valid Prometheus text); everything else is
unchanged.
"""

import sys


def main():
    from kubeless_runtime import server
    from kubeless_runtime.cli import main as serve

    make_wsgi = server.make_wsgi

    def broken_make_wsgi(*args, **kwargs):
        app = make_wsgi(*args, **kwargs)

        def renamed(environ, start_response):
            if environ.get("PATH_INFO") != "/metrics":
                return app(environ, start_response)
            seen = {}

            def capture(status, headers, exc_info=None):
                seen["status"], seen["headers"] = status, headers
                return lambda data: None

            result = app(environ, capture)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            body = body.replace(b"function_calls", b"function_invocations")
            headers = [(k, v) for k, v in seen["headers"] if k.lower() != "content-length"]
            start_response(seen["status"], headers + [("Content-Length", str(len(body)))])
            return [body]

        renamed.flush = getattr(app, "flush", None)
        return renamed

    server.make_wsgi = broken_make_wsgi
    return serve(["serve"])


if __name__ == "__main__":  # the guard matters: worker processes import this file too
    sys.exit(main())
