"""Kubernetes memory quantities (``--memory 128Mi``), parsed as Kubernetes parses them."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .errors import UsageError

MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses less
_QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([a-zA-Z]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


class QuantityError(UsageError):
    """A memory quantity that Kubernetes (or Docker) would not accept."""

    code = "invalid-memory"


def parse_memory(value: str) -> int:
    """Bytes of a Kubernetes memory quantity: ``128Mi``, ``1Gi``, ``512M``, ``1e9`` -> int.

    Kubernetes semantics (Kubeless passes --memory to the pod spec): ``M`` is 10**6 and ``Mi``
    2**20; a lowercase ``m`` means milli, which is never a memory size, so it is refused.
    """
    text = str(value).strip()
    exponent = re.match(r"^([0-9.]+)[eE]([0-9]+)$", text)
    try:
        if exponent:
            amount = Decimal(exponent.group(1)) * (Decimal(10) ** int(exponent.group(2)))
        else:
            match = _QUANTITY_RE.match(text)
            if not match:
                raise InvalidOperation
            number, suffix = match.groups()
            if suffix in _BINARY:
                amount = Decimal(number) * _BINARY[suffix]
            elif suffix in _DECIMAL:
                amount = Decimal(number) * _DECIMAL[suffix]
            else:
                raise QuantityError(
                    f"memory {value!r}: unknown suffix {suffix!r}; use Ki, Mi, Gi (powers of "
                    "1024) or k, M, G (powers of 1000), e.g. 128Mi")
    except InvalidOperation:
        raise QuantityError(f"memory {value!r} is not a quantity; write e.g. 128Mi, 1Gi "
                            "or 512M") from None
    if amount != amount.to_integral_value():
        raise QuantityError(f"memory {value!r} is not a whole number of bytes; write e.g. 128Mi")
    if amount < MIN_MEMORY:
        raise QuantityError(f"memory {value!r} is below the 6Mi Docker accepts; "
                            "functions need at least 64Mi in practice")
    return int(amount)


def format_memory(value: str) -> str:
    """The canonical spelling Kubernetes gives ``value`` (FUNC_MEMORY_LIMIT): 1024Mi -> 1Gi."""
    amount = parse_memory(value)
    binary = any(str(value).strip().endswith(suffix) for suffix in _BINARY)
    table = _BINARY if binary else {k: v for k, v in _DECIMAL.items() if k}
    for suffix, factor in sorted(table.items(), key=lambda item: -item[1]):
        if amount % factor == 0:
            return f"{amount // factor}{suffix}"
    return str(amount)


__all__ = ["MIN_MEMORY", "QuantityError", "format_memory", "parse_memory"]
