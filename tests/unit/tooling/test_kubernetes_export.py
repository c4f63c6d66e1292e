"""export.py without a cluster: the objects match the local deploy's plan, values stay literal."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kubeless_runtime.errors import KubelessRuntimeError
from kubeless_runtime.tooling.catalog import load_catalog
from kubeless_runtime.tooling.deploy import DeploySpec, InvalidSpecError, plan_deployment
from kubeless_runtime.tooling.kubernetes import (
    ExportOptions,
    FunctionTooLargeError,
    export_objects,
    to_json,
)
from kubeless_runtime.tooling.kubernetes.export import PREPARE_COMMAND

REPO = Path(__file__).resolve().parents[3]
PY = REPO / "examples" / "python"
NODE = REPO / "examples" / "nodejs"


def export(name="hello", runtime="python3.11", **fields):
    options = fields.pop("options", None)
    spec = DeploySpec(name=name, runtime=runtime, **fields)
    config, deployment, service = export_objects(spec, options=options, host_env={})
    return config, deployment, service, spec


def pod_of(deployment):
    return deployment["spec"]["template"]["spec"]


def env_of(container):
    return {item["name"]: item["value"] for item in container["env"]}


def unescape(value: str) -> str:
    return value.replace("$$", "$")


def test_objects_are_named_and_labelled_as_kubeless_made_them():
    config, deployment, service, _ = export(from_file=str(PY / "helloget.py"),
                                            handler="helloget.foo")
    assert [o["kind"] for o in (config, deployment, service)] == [
        "ConfigMap", "Deployment", "Service"]
    for obj in (config, deployment, service):
        assert obj["metadata"]["name"] == "hello"
        assert obj["metadata"]["labels"] == {"created-by": "kubeless", "function": "hello"}
    assert service["spec"]["ports"] == [{"name": "http-function-port", "port": 8080,
                                         "targetPort": 8080, "protocol": "TCP"}]
    assert service["spec"]["selector"] == {"created-by": "kubeless", "function": "hello"}
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_configmap_holds_the_files_the_preparation_phase_writes():
    config, deployment, _, _ = export(from_file=str(PY / "hellowithdeps.py"),
                                      handler="hellowithdeps.handler",
                                      dependencies=str(PY / "requirements.txt"))
    assert config["data"]["hellowithdeps.py"] == (PY / "hellowithdeps.py").read_text()
    assert config["data"]["requirements.txt"] == (PY / "requirements.txt").read_text()
    volume = next(v for v in pod_of(deployment)["volumes"] if "configMap" in v)
    assert {i["key"]: i["path"] for i in volume["configMap"]["items"]} == {
        "hellowithdeps.py": "hellowithdeps.py", "requirements.txt": "requirements.txt"}


def test_zip_bundle_entries_become_keys_laid_out_in_folders(tmp_path):
    bundle = tmp_path / "fn.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("handler.py", "def run(event, context):\n    return 'ok'\n")
        archive.writestr("lib/util.py", "X = 1\n")
        archive.writestr("data/blob.bin", b"\xff\x00\x01")
        info = zipfile.ZipInfo("bin/tool.sh")
        info.external_attr = 0o100755 << 16
        archive.writestr(info, "#!/bin/sh\n")
    config, deployment, _, _ = export(from_file=str(bundle), handler="handler.run")
    items = next(v for v in pod_of(deployment)["volumes"] if "configMap" in v)["configMap"]["items"]
    by_path = {item["path"]: item for item in items}
    assert set(by_path) == {"handler.py", "lib/util.py", "data/blob.bin", "bin/tool.sh"}
    assert "/" not in "".join(item["key"] for item in items)
    assert config["data"][by_path["lib/util.py"]["key"]] == "X = 1\n"
    blob_key = by_path["data/blob.bin"]["key"]
    assert base64.b64decode(config["binaryData"][blob_key]) == b"\xff\x00\x01"
    assert by_path["bin/tool.sh"]["mode"] == 0o755 and "mode" not in by_path["handler.py"]


def test_init_containers_run_the_plans_phases_with_its_env_and_commands():
    spec_fields = dict(from_file=str(PY / "hellowithdeps.py"), handler="hellowithdeps.handler",
                       dependencies=str(PY / "requirements.txt"), env={"GREETING": "hi"})
    _, deployment, _, spec = export(**spec_fields)
    plan = plan_deployment(spec, host_env={})
    init = pod_of(deployment)["initContainers"]
    assert [c["name"] for c in init] == ["prepare", "installation"]
    prepare, install = init
    assert prepare["command"] == ["/bin/sh", "-c", PREPARE_COMMAND.replace("$", "$$")]
    assert install["image"] == plan.images["installation"]
    assert install["command"][:2] == ["/bin/sh", "-c"]
    assert unescape(install["command"][2]) == plan.commands["installation"]
    assert {k: unescape(v) for k, v in env_of(install).items()} == plan.phase_env["installation"]
    assert install["workingDir"] == "/kubeless"
    for container in init:
        assert {"name": "hello", "mountPath": "/kubeless"} in container["volumeMounts"]
        assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_no_installation_container_without_dependencies_but_still_a_preparation():
    _, deployment, _, _ = export(from_file=str(PY / "helloget.py"), handler="helloget.foo")
    assert [c["name"] for c in pod_of(deployment)["initContainers"]] == ["prepare"]
    # The preparation needs sh and cp: the catalog's installation image has them.
    assert pod_of(deployment)["initContainers"][0]["image"] == "kubeless-runtime/python-init:3.11"


def test_runtime_container_env_memory_probe_and_security():
    _, deployment, _, spec = export(from_file=str(PY / "helloget.py"), handler="helloget.foo",
                                    memory="256Mi", timeout=7, port=9090)
    plan = plan_deployment(spec, host_env={})
    (runtime,) = pod_of(deployment)["containers"]
    env = {k: unescape(v) for k, v in env_of(runtime).items()}
    assert env == plan.runtime_env
    for key, value in {"MOD_NAME": "helloget", "FUNC_HANDLER": "foo", "FUNC_TIMEOUT": "7",
                       "FUNC_RUNTIME": "python3.11", "FUNC_MEMORY_LIMIT": "256Mi",
                       "FUNC_PORT": "9090"}.items():
        assert env[key] == value
    assert runtime["name"] == "hello" and runtime["image"] == "kubeless-runtime/python:3.11"
    assert runtime["resources"]["limits"]["memory"] == "256Mi"
    probe = load_catalog().runtime("python3.11").liveness_probe
    assert runtime["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 9090}
    assert runtime["livenessProbe"]["periodSeconds"] == probe["periodSeconds"]
    context = runtime["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 1000
    assert context["allowPrivilegeEscalation"] is False
    assert runtime["ports"] == [{"containerPort": 9090, "protocol": "TCP"}]


def test_values_are_never_spliced_into_a_command(tmp_path):
    evil = "x'; rm -rf / #$(id)`id`"
    _, deployment, _, _ = export(from_file=str(PY / "helloget.py"), handler="helloget.foo",
                                 dependencies=str(PY / "requirements.txt"), env={"EVIL": evil})
    pod = pod_of(deployment)
    for container in pod["initContainers"] + pod["containers"]:
        assert evil not in json.dumps(container.get("command", []))
        if container["name"] != "prepare":
            # "$(id)" would be expanded by the kubelet; "$$" keeps it literal.
            assert env_of(container)["EVIL"] == evil.replace("$", "$$")


def test_nodejs_catalog_references_are_expanded_before_export():
    _, deployment, _, _ = export(name="node", runtime="nodejs20",
                                 from_file=str(NODE / "helloget.js"), handler="helloget.foo")
    env = env_of(pod_of(deployment)["containers"][0])
    assert env["NODE_PATH"] == "/kubeless/node_modules"


def test_custom_runtime_image_without_catalog_runtime():
    _, deployment, _, _ = export(runtime=None, runtime_image="example/fn:1")
    pod = pod_of(deployment)
    assert "initContainers" not in pod
    assert pod["containers"][0]["image"] == "example/fn:1"
    assert "livenessProbe" not in pod["containers"][0]


def test_runtime_image_override_keeps_the_catalog_probe():
    _, deployment, _, _ = export(from_file=str(PY / "helloget.py"), handler="helloget.foo",
                                 runtime_image="example/no-healthz:1")
    runtime = pod_of(deployment)["containers"][0]
    assert runtime["image"] == "example/no-healthz:1"
    assert runtime["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_options_namespace_replicas_and_extra_labels():
    options = ExportOptions(namespace="fns", replicas=3, labels={"team": "a"},
                            resources={"limits": {"cpu": "500m"}})
    config, deployment, service, _ = export(from_file=str(PY / "helloget.py"),
                                            handler="helloget.foo", options=options)
    assert {o["metadata"]["namespace"] for o in (config, deployment, service)} == {"fns"}
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["labels"]["team"] == "a"
    limits = pod_of(deployment)["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "500m", "memory": "128Mi"}


def test_ca_bundle_goes_to_the_installation_phase_only(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    config, deployment, _, _ = export(from_file=str(PY / "helloget.py"), handler="helloget.foo",
                                      dependencies=str(PY / "requirements.txt"),
                                      ca_bundle=str(ca))
    assert "kubeless-ca-bundle.crt" in config["data"]
    pod = pod_of(deployment)
    install = pod["initContainers"][1]
    assert env_of(install)["PIP_CERT"] == "/etc/kubeless/ca-bundle.crt"
    assert "PIP_CERT" not in env_of(pod["containers"][0])
    items = next(v for v in pod["volumes"] if v["name"] == "hello-deps")["configMap"]["items"]
    assert "kubeless-ca-bundle.crt" not in {item["key"] for item in items}


def test_plan_errors_come_through_unchanged():
    with pytest.raises(InvalidSpecError):
        export(name="Bad_Name", from_file=str(PY / "helloget.py"), handler="helloget.foo")


def test_too_large_for_a_configmap(tmp_path):
    big = tmp_path / "big.py"
    big.write_text("X = '" + "a" * (1024 * 1024) + "'\n")
    with pytest.raises(FunctionTooLargeError) as info:
        export(from_file=str(big), handler="big.run")
    assert info.value.code == "function-too-large"
    assert isinstance(info.value, KubelessRuntimeError)


def test_to_json_is_a_v1_list():
    config, deployment, service, _ = export(from_file=str(PY / "helloget.py"),
                                            handler="helloget.foo")
    document = json.loads(to_json([config, deployment, service]))
    assert document["kind"] == "List" and len(document["items"]) == 3


def test_cli_export_prints_the_objects():
    result = subprocess.run(
        [sys.executable, "-m", "kubeless_runtime", "export", "hello", "--runtime", "python3.11",
         "--from-file", str(PY / "helloget.py"), "--handler", "helloget.foo", "--replicas", "2"],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    assert [i["kind"] for i in items] == ["ConfigMap", "Deployment", "Service"]
    assert items[1]["spec"]["replicas"] == 2
