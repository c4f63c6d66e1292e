"""Kept for the import path the README documents; the module is `runtime/event.py`."""

from .runtime.event import *  # noqa: F401,F403
