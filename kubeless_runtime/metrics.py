"""Prometheus metrics with the names and labels Kubeless dashboards expect.

A private registry (not the global default) keeps two servers in one
process, as in tests, from colliding, and keeps ``/metrics`` to the function's
own series plus the process collector.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator, Tuple

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)


class FunctionMetrics:
    """``function_calls_total``, ``function_failures_total`` and ``function_duration_seconds``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.calls = Counter("function_calls", "Number of calls to the function",
                             ["method"], registry=self.registry)
        self.failures = Counter("function_failures",
                                "Number of calls that raised, crashed or timed out",
                                ["method"], registry=self.registry)
        self.duration = Histogram("function_duration_seconds", "Duration of function calls",
                                  ["method"], registry=self.registry)

    @contextmanager
    def observe(self, method: str) -> Iterator["_Call"]:
        """Count one call; the body marks it failed with ``call.failed = True``."""
        call = _Call()
        self.calls.labels(method).inc()
        start = time.perf_counter()
        try:
            yield call
        except BaseException:
            call.failed = True
            raise
        finally:
            self.duration.labels(method).observe(time.perf_counter() - start)
            if call.failed:
                self.failures.labels(method).inc()

    def exposition(self) -> Tuple[bytes, str]:
        """The text served on ``/metrics`` and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _Call:
    __slots__ = ("failed",)

    def __init__(self) -> None:
        self.failed = False
