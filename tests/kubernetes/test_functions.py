"""Functions on a real cluster: deploy/call/ls/logs/delete --target kubernetes, init-container
phases (installation, failures), the liveness probe, and `export -f` of a Kubeless Function.

The images come from the cluster's containerd (scripts/kubernetes-up.sh loads every local
``kubeless-runtime/*`` image); nothing is pulled from a registry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from kubeless_runtime.tooling.catalog import load_catalog
from kubeless_runtime.tooling.deploy import DeployError, DeploySpec
from kubeless_runtime.tooling.kubernetes import ExportOptions, export_objects
from kubeless_runtime.tooling.kubernetes.target import deploy as deploy_on_cluster

from .conftest import REPO

pytestmark = pytest.mark.kubernetes

EXAMPLES = REPO / "examples"
NO_HEALTHZ_IMAGE = os.environ.get("KUBELESS_K8S_NO_HEALTHZ_IMAGE",
                                  "kubeless-runtime/test-no-healthz:3.11")
CATALOG = load_catalog()


def _example(language: str, name: str) -> dict:
    manifest = json.loads((EXAMPLES / language / "examples.json").read_text("utf-8"))
    return next(e for e in manifest["examples"] if e["name"] == name)


@pytest.mark.parametrize("runtime, language, example", [
    ("python3.11", "python", "helloget"),
    ("python3.11", "python", "hellowithdata"),
    ("nodejs20", "nodejs", "helloget"),
    ("nodejs20", "nodejs", "hellowithdata"),
])
def test_examples_answer_through_call(cli, runtime, language, example):
    spec = _example(language, example)
    name = f"{example}-{runtime.replace('.', '')}"
    deployed = cli("deploy", name, "--runtime", runtime, "--from-file",
                   str(EXAMPLES / language / spec["file"]), "--handler", spec["handler"])
    try:
        assert deployed.returncode == 0, deployed.stderr
        call = spec["calls"][0]
        args = ["call", name]
        if "json" in call:
            args += ["--data", json.dumps(call["json"])]
        called = cli(*args)
        assert called.returncode == 0, called.stderr
        expect = call["expect"]
        if "body" in expect:
            assert called.stdout.strip() == expect["body"]
        if "json" in expect:
            assert json.loads(called.stdout) == expect["json"]
        listed = cli("ls")
        line = next(row for row in listed.stdout.splitlines() if row.startswith(name + " "))
        assert runtime in line and "1/1 READY" in line
        logs = cli("logs", name)
        assert logs.returncode == 0
        for fragment in spec.get("logs", []):
            assert fragment in logs.stdout
    finally:
        removed = cli("delete", name)
    assert removed.returncode == 0, removed.stderr
    assert cli("call", name).returncode != 0


@pytest.mark.skipif(os.environ.get("KUBELESS_K8S_POD_EGRESS") != "1",
                    reason="pods reach no package registry: KUBELESS_K8S_POD_EGRESS=1 "
                           "bash scripts/test-kubernetes.sh")
@pytest.mark.parametrize("runtime, language", [("python3.11", "python"), ("nodejs20", "nodejs")])
def test_examples_with_registry_dependencies(cli, runtime, language):
    spec = _example(language, "hellowithdeps")
    name = f"withdeps-{runtime.replace('.', '')}"
    ca = os.environ.get("KUBELESS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    deployed = cli("deploy", name, "--runtime", runtime, "--from-file",
                   str(EXAMPLES / language / spec["file"]), "--handler", spec["handler"],
                   "--dependencies", str(EXAMPLES / language / spec["dependencies"]),
                   *(["--ca-bundle", ca] if Path(ca).is_file() else []))
    try:
        assert deployed.returncode == 0, deployed.stderr
        call = spec["calls"][0]
        args = ["call", name, "--data", call["body"]]
        for key, value in (call.get("headers") or {}).items():
            args += ["--header", f"{key}={value}"]
        called = cli(*args)
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout) == call["expect"]["json"]
    finally:
        cli("delete", name)


def _wheel(name: str, body: str) -> bytes:
    """A pure-Python wheel made by hand, so the install needs no package index."""
    buffer = io.BytesIO()
    info = f"{name}-1.0.dist-info"
    files = {f"{name}/__init__.py": body,
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n"}
    record = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{info}/RECORD", record)
    return buffer.getvalue()


def test_dependencies_install_in_the_init_container(cli, cluster, tmp_path):
    wheel = "greet-1.0-py3-none-any.whl"
    bundle = tmp_path / "fn.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("handler.py", "import greet\n\ndef run(event, context):\n"
                                       "    return greet.greet(event['data']['who'])\n")
        archive.writestr(wheel, _wheel("greet", "def greet(x):\n    return 'greet ' + x\n"))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"/kubeless/{wheel}\n")
    deployed = cli("deploy", "withdeps", "--runtime", "python3.11", "--from-file", str(bundle),
                   "--handler", "handler.run", "--dependencies", str(requirements))
    try:
        assert deployed.returncode == 0, deployed.stderr
        called = cli("call", "withdeps", "--data", '{"who": "world"}')
        assert called.returncode == 0, called.stderr
        assert called.stdout.strip() == "greet world"
        pod = cluster.pods("withdeps")[0].metadata.name
        assert "Successfully installed greet-1.0" in cluster.logs(pod, "installation")
    finally:
        cli("delete", "withdeps")


def test_failing_install_shows_its_termination_message(cli, cluster, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("/kubeless/no-such-package-1.0-py3-none-any.whl\n")
    deployed = cli("deploy", "badinstall", "--runtime", "python3.11", "--from-file",
                   str(EXAMPLES / "python" / "helloget.py"), "--handler", "helloget.foo",
                   "--dependencies", str(requirements))
    assert deployed.returncode != 0
    # The catalog's install command writes this line to /dev/termination-log.
    assert "installation phase failed: exit code 1:" in deployed.stderr
    assert "pip install -r /kubeless/requirements.txt failed (exit 1)" in deployed.stderr
    assert "[deploy-phase-failed]" in deployed.stderr
    assert not cluster.exists("badinstall"), "a failed deploy removes what it created"


def test_compile_error_reaches_the_user(cluster, tmp_path):
    compiled = [r for r in CATALOG.runtimes if r.has_phase("compilation")]
    if not compiled:
        pytest.skip("no runtime in the catalog has a compilation phase yet (Go, Java)")
    runtime = compiled[0]
    source = tmp_path / f"broken{runtime.file_name_suffix}"
    source.write_text("this is not a program {{{\n")
    spec = DeploySpec(name="badcompile", runtime=runtime.name, from_file=str(source),
                      handler="broken.Handler")
    with pytest.raises(DeployError) as info:
        deploy_on_cluster(spec, cluster, phase_timeout=600)
    assert info.value.phase == "compilation"
    assert info.value.termination_message
    assert not cluster.exists("badcompile")


def _restarts(cluster: Any, name: str) -> int:
    total = 0
    for pod in cluster.pods(name):
        total += sum(s.restart_count for s in pod.status.container_statuses or [])
    return total


def test_image_without_healthz_is_restarted_by_its_liveness_probe(cluster):
    python = CATALOG.runtime("python3.11")
    fast = dataclasses.replace(python, liveness_probe={
        "httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 2,
        "periodSeconds": 2, "failureThreshold": 2, "timeoutSeconds": 1})
    spec = DeploySpec(name="nohealthz", runtime="python3.11", runtime_image=NO_HEALTHZ_IMAGE,
                      from_file=str(EXAMPLES / "python" / "helloget.py"),
                      handler="helloget.foo")
    objects = export_objects(spec, catalog=CATALOG.with_runtime(fast),
                             options=ExportOptions(namespace=cluster.namespace))
    cluster.create(objects)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _restarts(cluster, "nohealthz") < 1:
            for pod in cluster.pods("nohealthz"):
                for status in pod.status.container_statuses or []:
                    waiting = status.state.waiting
                    if waiting is not None and waiting.reason in ("ErrImageNeverPull",
                                                                  "ErrImagePull",
                                                                  "ImagePullBackOff"):
                        pytest.fail(f"{NO_HEALTHZ_IMAGE} is not in the cluster: "
                                    "scripts/test-kubernetes.sh builds and loads it")
            time.sleep(1)
        assert _restarts(cluster, "nohealthz") >= 1, "the liveness probe never restarted it"
        events = cluster.core.list_namespaced_event(
            cluster.namespace, field_selector="reason=Unhealthy").items
        assert any("Liveness probe failed" in (event.message or "") for event in events)
    finally:
        cluster.delete("nohealthz")


FUNCTION_MANIFEST = """\
apiVersion: kubeless.io/v1beta1
kind: Function
metadata:
  name: get-python
  labels:
    created-by: kubeless
    function: get-python
spec:
  runtime: python3.11
  timeout: "180"
  handler: helloget.foo
  deps: ""
  checksum: sha256:{checksum}
  function-content-type: text
  function: |
    def foo(event, context):
        return "hello world"
  deployment:
    spec:
      template:
        spec:
          containers:
          - name: ""
            env:
            - name: GREETING
              value: hi
            resources:
              limits:
                memory: 100Mi
              requests:
                memory: 100Mi
  service:
    ports:
    - name: http-function-port
      port: 8080
      protocol: TCP
      targetPort: 8080
    selector:
      created-by: kubeless
      function: get-python
    type: ClusterIP
"""


def _kubectl() -> str:
    cache = Path(os.environ.get("KUBELESS_K8S_CACHE", Path.home() / ".cache" /
                                "kubeless-runtime" / "kubernetes"))
    candidate = cache / "debian-root" / "usr" / "bin" / "kubectl"
    return str(candidate) if candidate.is_file() else (shutil.which("kubectl") or "kubectl")


def test_export_f_of_a_kubeless_function_applies_and_serves(cli, cluster, kubeconfig,
                                                            namespace, tmp_path):
    source = 'def foo(event, context):\n    return "hello world"\n'
    manifest = tmp_path / "function.yaml"
    manifest.write_text(FUNCTION_MANIFEST.format(
        checksum=hashlib.sha256(source.encode()).hexdigest()))
    exported = cli("export", "-f", str(manifest), "--namespace", namespace, target=False)
    assert exported.returncode == 0, exported.stderr
    applied = subprocess.run([_kubectl(), "--kubeconfig", kubeconfig, "apply", "-f", "-"],
                             input=exported.stdout, capture_output=True, text=True,
                             timeout=60, check=False)
    assert applied.returncode == 0, applied.stderr
    try:
        waited = subprocess.run(
            [_kubectl(), "--kubeconfig", kubeconfig, "-n", namespace, "rollout", "status",
             "deployment/get-python", "--timeout=180s"],
            capture_output=True, text=True, timeout=200, check=False)
        assert waited.returncode == 0, waited.stderr + waited.stdout
        called = cli("call", "get-python")
        assert called.returncode == 0, called.stderr
        assert called.stdout.strip() == "hello world"
        pod = cluster.pods("get-python")[0]
        env = {e.name: e.value for e in pod.spec.containers[0].env}
        assert env["GREETING"] == "hi" and env["FUNC_MEMORY_LIMIT"] == "100Mi"
    finally:
        cluster.delete("get-python")
