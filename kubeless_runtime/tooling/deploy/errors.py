"""What can go wrong in a local deploy, each with a stable code and the fix in its message."""

from __future__ import annotations

from typing import Optional

from ...errors import KubelessRuntimeError, UsageError


class DeployError(KubelessRuntimeError):
    """A deploy phase failed: ``phase``, its ``termination_message`` and ``log_tail``."""

    code = "deploy-phase-failed"

    def __init__(self, phase: str, termination_message: str, log_tail: str = "",
                 function: Optional[str] = None, message: Optional[str] = None) -> None:
        self.phase = phase
        self.termination_message = termination_message.strip()
        self.log_tail = log_tail.rstrip()
        self.function = function
        if message is None:
            who = f"function {function!r}: " if function else ""
            message = f"{who}{phase} phase failed: {self.termination_message or '(no message)'}"
            if self.log_tail:
                message += f"\n--- {phase} log tail ---\n{self.log_tail}"
        super().__init__(message)


class EngineRefusedError(DeployError):
    """The Docker engine refused a request during a phase (not the phase's own failure)."""

    code = "engine-refused"


class PhaseTimeoutError(DeployError):
    """An installation or compilation container ran past its time limit."""

    code = "phase-timeout"


class InvalidSpecError(UsageError):
    """An argument of a deploy is unusable (name, handler, memory, env, file)."""

    code = "invalid-spec"
    phase = "preparation"

    def __init__(self, message: str, function: Optional[str] = None) -> None:
        self.function = function
        who = f"function {function!r}: " if function else ""
        super().__init__(who + message)


class UnsafeArchiveError(InvalidSpecError):
    """A bundle entry would escape /kubeless (``..``, absolute path, symlink, device)."""

    code = "unsafe-archive"


class FunctionExistsError(DeployError):
    """A function of that name is already deployed."""

    code = "function-exists"

    def __init__(self, name: str) -> None:
        text = (f"function {name!r} already exists; delete it first "
                f"(kubeless-runtime delete {name}) or pick another name")
        super().__init__("preparation", text, function=name, message=text)


class FunctionNotFoundError(KubelessRuntimeError, LookupError):
    """No deployed function has that name."""

    code = "function-not-found"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"function {name!r} not found; `kubeless-runtime ls` lists the "
                         "deployed functions")


__all__ = ["DeployError", "EngineRefusedError", "FunctionExistsError", "FunctionNotFoundError",
           "InvalidSpecError", "PhaseTimeoutError", "UnsafeArchiveError"]
