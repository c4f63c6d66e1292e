"""Kept for the import path the README documents; the module is `runtime/loader.py`."""

from .runtime.loader import *  # noqa: F401,F403
