"""Prometheus metrics with the names and labels Kubeless dashboards expect.

A private registry (not the global default) keeps two servers in one
process, as in tests, from colliding, and keeps ``/metrics`` to the function's
own series plus the process collector.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

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
        self._children: Dict[str, Tuple[Any, Any, Any]] = {}

    def _series(self, method: str) -> Tuple[Any, Any, Any]:
        series = self._children.get(method)
        if series is None:
            series = (self.calls.labels(method), self.failures.labels(method),
                      self.duration.labels(method))
            self._children[method] = series
        return series

    def record(self, method: str, seconds: float, failed: bool) -> None:
        """Count one finished call."""
        calls, failures, duration = self._series(method)
        calls.inc()
        duration.observe(seconds)
        if failed:
            failures.inc()

    def exposition(self) -> Tuple[bytes, str]:
        """The text served on ``/metrics`` and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
