"""Every example of every language, deployed in every runtime of that language.

``examples/<lang>/examples.json`` says, per example, the file, handler, optional dependency
file, timeout and env, the calls to make and what each must answer, and the lines the log
must hold; an example expected to fail its deploy (a compile error) says the phase and text
of the termination message under ``deploy_error`` instead of calls.  The runtimes come from
the catalog (``images/<lang>/runtime.json``), so a new language or version is tested by adding
files, not by editing this one.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Tuple

import pytest

from kubeless_runtime.contract import dns_label
from kubeless_runtime.tooling.catalog import load_catalog
from kubeless_runtime.tooling.deploy import DeployError

from .helpers import REPO, http

pytestmark = pytest.mark.container


def _cases() -> List[Any]:
    cases = []
    catalog = load_catalog()
    for language in catalog.languages():
        manifest = REPO / "examples" / language / "examples.json"
        examples = json.loads(manifest.read_text(encoding="utf-8"))["examples"]
        for runtime in catalog.of_language(language):
            for example in examples:
                cases.append(pytest.param(language, runtime.name, example,
                                          id=f"{runtime.name}-{example['name']}"))
    return cases


def _request(call: Dict[str, Any]) -> Tuple[str, bytes, Dict[str, str]]:
    headers = dict(call.get("headers") or {})
    body = None
    if "json" in call:
        body = json.dumps(call["json"]).encode()
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
    elif "body" in call:
        body = call["body"].encode()
    method = call.get("method") or ("POST" if body else "GET")
    return method, body, headers


def _fill(value: Any, name: str) -> Any:
    if isinstance(value, str):
        return value.replace("{function}", name)
    if isinstance(value, list):
        return [_fill(item, name) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, name) for key, item in value.items()}
    return value


@pytest.mark.parametrize("language, runtime, example", _cases())
def test_example(fn, language, runtime, example):
    folder = REPO / "examples" / language
    options: Dict[str, Any] = {"handler": example["handler"],
                               "from_file": str(folder / example["file"])}
    if example.get("dependencies"):
        options["dependencies"] = str(folder / example["dependencies"])
    if example.get("timeout"):
        options["timeout"] = example["timeout"]
    if example.get("env"):
        options["env"] = example["env"]
    started = time.monotonic()
    if "deploy_error" in example:
        expected = example["deploy_error"]
        with pytest.raises(DeployError) as failure:
            fn(dns_label(f"{example['name'][:12]}-{runtime}", 40), runtime, **options)
        assert failure.value.phase == expected["phase"], str(failure.value)
        assert expected["contains"] in failure.value.termination_message, str(failure.value)
        return
    deployment = fn(dns_label(f"{example['name'][:12]}-{runtime}", 40), runtime, **options)
    print(f"\n{runtime} {example['name']}: deploy to first 200 in "
          f"{time.monotonic() - started:.2f} s")
    assert deployment.url.startswith("http://127.0.0.1:")
    for call in example["calls"]:
        method, body, headers = _request(call)
        status, answer = http(deployment.url + call.get("path", "/"), data=body, method=method,
                              headers=headers)
        expect = _fill(call["expect"], deployment.name)
        where = f"{method} {call.get('path', '/')} -> {status} {answer[:200]!r}"
        assert status == expect["status"], where
        if "body" in expect:
            assert answer.decode() == expect["body"], where
        if "json" in expect:
            assert json.loads(answer) == expect["json"], where
        if "contains" in expect:
            assert expect["contains"].encode() in answer, where
    logs = deployment.logs()
    for line in example.get("logs", []):
        assert line in logs, f"{line!r} not in the log:\n{logs[-2000:]}"
