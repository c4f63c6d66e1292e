"""The request log: one Apache combined line per request on stdout, as Kubeless runtimes write.

Lines are buffered and flushed a few times a second by the event loop instead
of after every line: a ``write`` system call per request is a measurable share
of the HTTP process's time, and nobody reads the log at sub-second resolution.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Optional

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_clock_cache = [-1, ""]
FLUSH_INTERVAL = 0.2


def _log_time(now: float) -> str:
    second = int(now)
    if _clock_cache[0] != second:
        local = time.localtime(second)
        _clock_cache[1] = time.strftime(
            f"%d/{_MONTHS[local.tm_mon - 1]}/%Y:%H:%M:%S %z", local)
        _clock_cache[0] = second
    return _clock_cache[1]


def combined_log_line(remote: str, method: str, target: str, protocol: str, status: int,
                      size: int, referer: str = "", user_agent: str = "",
                      seconds: float = 0.0) -> str:
    """Apache combined format plus the response time as ``seconds/microseconds``.

    The same line ``wsgi-request-logger``'s ``ApacheFormatter(with_response_time=True)``
    wrote before, so log parsers keep working.
    """
    rt_us = int(seconds * 1e6)
    return (f'{remote or "-"} - - [{_log_time(time.time())}] "{method} {target} {protocol}" '
            f'{status} {size} "{referer}" "{user_agent}" {rt_us // 1000000}/{rt_us % 1000000}')


class RequestLog:
    """A buffered line writer whose flush the event loop schedules (see the module doc)."""

    def __init__(self, stream: Any = None) -> None:
        if stream is None:
            stream = open(sys.stdout.fileno(), "w", buffering=1 << 16, encoding="utf-8",
                          errors="replace", closefd=False)
        self.stream = stream
        self._loop: Optional[Any] = None

    def write(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
        except (OSError, ValueError):
            pass

    def flush(self) -> None:
        try:
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def start(self, loop: Any) -> None:
        """Flush every ``FLUSH_INTERVAL`` seconds on ``loop`` until the loop stops."""
        self._loop = loop
        loop.call_later(FLUSH_INTERVAL, self._tick)

    def _tick(self) -> None:
        self.flush()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_later(FLUSH_INTERVAL, self._tick)
