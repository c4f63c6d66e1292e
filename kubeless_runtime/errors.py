"""One error base for the whole package.

Every error a user can meet derives from :class:`KubelessRuntimeError` and carries a stable,
machine-readable ``code`` (shown in JSON reports and termination messages) beside a message
that names the variable, file or flag at fault and says what to do.  Callers catch the base
once; scripts match on ``code``, never on wording.
"""

from __future__ import annotations


class KubelessRuntimeError(Exception):
    """Base of every error this package raises on purpose."""

    code = "error"

    def describe(self) -> str:
        """The message with its code, as the CLI and the termination log show it."""
        return f"{self} [{self.code}]"


class UsageError(KubelessRuntimeError, ValueError):
    """A flag, argument or value cannot be used as given (never a deploy-phase failure)."""

    code = "usage"


__all__ = ["KubelessRuntimeError", "UsageError"]
