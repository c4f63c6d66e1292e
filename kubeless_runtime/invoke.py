"""Kept for the import path the README documents (``kubeless_runtime.invoke.WorkerPool``)."""

from .runtime.pool import WorkerPool  # noqa: F401
from .runtime.worker import BAD_REQUEST, CRASH, ERROR, OK, TIMEOUT  # noqa: F401
