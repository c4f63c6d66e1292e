"""``python -m kubeless_runtime``: what a runtime image runs, configured by the Kubeless env."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["serve"]))
