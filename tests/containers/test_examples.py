"""Every example of every language, deployed in every runtime of that language.

``examples/<lang>/examples.json`` says, per example, the file, handler, optional dependency
file, timeout and env, the calls to make and what each must answer, and the lines the log
must hold; or, for a function that must not deploy (a compile error), ``deploy_error``: the
phase that fails and text its termination message contains.  The runtimes come from the
catalog (``images/<lang>/runtime.json``), so a new language or version is tested by adding
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
    if example.get("deploy_error"):
        expected = example["deploy_error"]
        with pytest.raises(DeployError) as failed:
            fn(dns_label(f"{example['name'][:12]}-{runtime}", 40), runtime, **options)
        assert failed.value.phase == expected["phase"], str(failed.value)
        assert expected["contains"] in failed.value.termination_message, str(failed.value)
        return
    deployment = fn(dns_label(f"{example['name'][:12]}-{runtime}", 40), runtime, **options)
    print(f"\n{runtime} {example['name']}: deploy to first 200 in "
          f"{time.monotonic() - started:.2f} s")
    assert deployment.url.startswith("http://127.0.0.1:")
    for call in example["calls"]:
        method, body, headers = _request(call)
        status, answer = http(deployment.url + call.get("path", "/"), data=body, method=method,
                              headers=headers)
        expect = call["expect"]
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
