"""Kept for the import path the README documents; the module is `runtime/metrics.py`."""

from .runtime.metrics import *  # noqa: F401,F403
