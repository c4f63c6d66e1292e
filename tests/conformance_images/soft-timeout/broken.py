"""Our Python runtime with soft timeouts (broken on purpose): 408 at the deadline, but the
worker running the call is only forgotten, not killed, so the function runs on.

It is how a runtime that cannot stop a function behaves (a thread, an event loop); everything
else is unchanged.
"""

import sys


def main():
    from kubeless_runtime.cli import main as serve
    from kubeless_runtime.runtime import worker

    def forget_instead_of_kill(process):
        pass  # no SIGKILL: the pool closes its channel, the process finishes the call on its own

    worker.WorkerProcess.signal_kill = forget_instead_of_kill
    return serve(["serve"])


if __name__ == "__main__":  # the guard matters: worker processes import this file too
    sys.exit(main())
