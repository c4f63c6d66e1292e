"""Our Python runtime whose server process exits when the function raises (broken on purpose).

A WSGI middleware ends the process instead of sending the 500, as a server without an
exception handler around the function would; everything else is unchanged.
"""

import os
import sys


def main():
    from kubeless_runtime import server
    from kubeless_runtime.cli import main as serve

    make_wsgi = server.make_wsgi

    def broken_make_wsgi(*args, **kwargs):
        app = make_wsgi(*args, **kwargs)

        def die_on_500(environ, start_response):
            def watch(status, headers, exc_info=None):
                if status.startswith("500"):
                    sys.stderr.write("broken runtime: the function raised; exiting\n")
                    sys.stderr.flush()
                    os._exit(70)
                return start_response(status, headers, exc_info)

            return app(environ, watch)

        die_on_500.flush = getattr(app, "flush", None)
        return die_on_500

    server.make_wsgi = broken_make_wsgi
    return serve(["serve"])


if __name__ == "__main__":  # the guard matters: worker processes import this file too
    sys.exit(main())
