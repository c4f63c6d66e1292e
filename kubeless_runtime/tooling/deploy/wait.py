"""Waiting for a function to answer on 127.0.0.1, with no proxy in the way."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Tuple


def loopback_opener() -> urllib.request.OpenerDirector:
    """A urllib opener that ignores HTTP(S)_PROXY: the function is on 127.0.0.1."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(url: str, timeout: float) -> Tuple[int, str]:
    """(HTTP status or 0, description) of GET ``url``; never raises."""
    try:
        with loopback_opener().open(url, timeout=timeout) as response:
            return response.status, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except Exception as exc:  # noqa: BLE001 - refused, reset, timeout: not ready yet
        return 0, f"{type(exc).__name__}: {exc}"
