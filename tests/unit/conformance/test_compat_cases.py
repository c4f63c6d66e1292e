"""Conformance verdicts that must match what Kubeless's own images really do: the context's
function-name, metrics of methods an image refuses, other method label values, level custom
with only an image, and healthz-parallel on a loaded machine."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from kubeless_runtime.conformance import cases as cases_mod
from kubeless_runtime.conformance import httpclient
from kubeless_runtime.conformance.cases import Failed
from kubeless_runtime.conformance.runner import Target, resolve_target
from kubeless_runtime.tooling.catalog import load_catalog


class Ctx:
    """Just enough of CaseContext: canned answers to commands and calls."""

    def __init__(self, runtime: str = "python3.11") -> None:
        self.target = resolve_target(Target(runtime, "img", level="full"), load_catalog())
        self.memos: Dict[str, Any] = {}
        self.answers: Dict[str, Any] = {}

    def deployment_name(self) -> str:
        return "kc-1a2b3c-main"

    def token(self) -> str:
        return "feedbeef"

    def memo(self, name: str, compute: Any) -> Any:
        if name not in self.memos:
            self.memos[name] = compute()
        return self.memos[name]

    def command(self, name: str, **fields: Any) -> httpclient.Response:
        return self.answers[name](fields)


# --- context: function-name is the handler's name, as Kubeless gives it ------------------------

def context_ctx(function_name: str) -> Ctx:
    ctx = Ctx()
    body = {"context": {"function-name": function_name, "timeout": "30",
                        "runtime": "python3.11", "memory-limit": "256Mi"}}
    ctx.answers["context"] = lambda _: httpclient.Response(200, json.dumps(body).encode())
    return ctx


def test_context_expects_the_handlers_name_as_kubeless_gives():
    check = cases_mod.get_case("context").check
    handler = context_ctx("x").target.functions.handler.rpartition(".")[2]
    assert check(context_ctx(handler)) == "all four as deployed"
    with pytest.raises(Failed, match="the deployment's name; Kubeless gives the handler's"):
        check(context_ctx("kc-1a2b3c-main"))
