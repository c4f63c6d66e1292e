"""Kept for the import path the README documents; the HTTP side is in `runtime/`."""

from .runtime.app import cors, make_app, request_logger  # noqa: F401
from .runtime.server import serve  # noqa: F401
