"""Our Python runtime whose server process exits when the function raises (broken on purpose).

An ASGI middleware ends the process instead of sending the 500, as a server without an
exception handler around the function would; everything else is unchanged.
"""

import os
import sys


def main():
    from kubeless_runtime.cli import main as serve
    from kubeless_runtime.runtime import server

    make_app = server.make_app

    def broken_make_app(*args, **kwargs):
        app = make_app(*args, **kwargs)

        async def die_on_500(scope, receive, send):
            async def watch(message):
                if message["type"] == "http.response.start" and message["status"] == 500:
                    sys.stderr.write("broken runtime: the function raised; exiting\n")
                    sys.stderr.flush()
                    os._exit(70)
                await send(message)

            await app(scope, receive, watch)

        die_on_500.request_log = app.request_log
        return die_on_500

    server.make_app = broken_make_app
    return serve(["serve"])


if __name__ == "__main__":  # the guard matters: worker processes import this file too
    sys.exit(main())
