"""Kubeless Function manifests -> DeploySpec + options: honoured fields, and clear refusals."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kubeless_runtime.tooling.catalog import UnknownRuntimeError
from kubeless_runtime.tooling.kubernetes import (
    InvalidManifestError,
    UnsupportedFieldError,
    convert_function,
    export_objects,
    load_manifests,
)

SOURCE = 'def foo(event, context):\n    return "hello world"\n'


def function(**spec):
    body = {"runtime": "python3.11", "timeout": "180", "handler": "helloget.foo", "deps": "",
            "checksum": "sha256:" + hashlib.sha256(SOURCE.encode()).hexdigest(),
            "function-content-type": "text", "function": SOURCE}
    body.update(spec)
    return {"apiVersion": "kubeless.io/v1beta1", "kind": "Function",
            "metadata": {"name": "get-python", "namespace": "default"}, "spec": body}


def test_minimal_kubeless_function(tmp_path):
    converted = convert_function(function(), tmp_path)
    spec = converted.spec
    assert (spec.name, spec.runtime, spec.handler, spec.timeout) == (
        "get-python", "python3.11", "helloget.foo", 180.0)
    assert Path(spec.from_file).read_text() == SOURCE
    assert Path(spec.from_file).name == "helloget.py"
    assert spec.dependencies is None
    assert converted.options.namespace == "default" and converted.options.replicas == 1
    config = export_objects(spec, options=converted.options, host_env={})[0]
    assert config["data"]["helloget.py"] == SOURCE


def test_deps_timeout_env_memory_replicas_image_and_service(tmp_path):
    document = function(deps="PyYAML\n", timeout="30", deployment={
        "metadata": {"name": "get-python", "creationTimestamp": None},
        "spec": {"replicas": 2, "template": {"metadata": {"creationTimestamp": None}, "spec": {
            "containers": [{"name": "", "image": "example/python:1",
                            "env": [{"name": "FOO", "value": "bar"}],
                            "resources": {"limits": {"memory": "256Mi", "cpu": "100m"},
                                          "requests": {"memory": "256Mi"}}}]}}}},
        service={"ports": [{"name": "http-function-port", "port": 9090, "protocol": "TCP",
                            "targetPort": 9091}],
                 "selector": {"created-by": "kubeless", "function": "get-python"},
                 "type": "ClusterIP"})
    document["metadata"]["labels"] = {"team": "a"}
    converted = convert_function(document, tmp_path)
    spec, options = converted.spec, converted.options
    assert Path(spec.dependencies).name == "requirements.txt"
    assert Path(spec.dependencies).read_text() == "PyYAML\n"
    assert spec.timeout == 30 and spec.env == {"FOO": "bar"} and spec.memory == "256Mi"
    assert spec.runtime_image == "example/python:1" and spec.port == 9091
    assert options.replicas == 2 and options.service_port == 9090
    assert options.resources == {"limits": {"cpu": "100m"}}
    assert options.labels == {"team": "a"}
    _, deployment, service = export_objects(spec, options=options, host_env={})
    assert service["spec"]["ports"][0]["port"] == 9090
    assert service["spec"]["ports"][0]["targetPort"] == 9091
    assert deployment["spec"]["replicas"] == 2


def test_base64_zip_content(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("helloget.py", SOURCE)
        archive.writestr("lib/x.py", "X = 1\n")
    data = buffer.getvalue()
    document = function(**{"function-content-type": "base64+zip",
                           "function": base64.b64encode(data).decode(),
                           "checksum": "sha256:" + hashlib.sha256(data).hexdigest()})
    spec = convert_function(document, tmp_path).spec
    assert spec.from_file.endswith(".zip")
    config, deployment, _ = export_objects(spec, host_env={})
    items = deployment["spec"]["template"]["spec"]["volumes"][1]["configMap"]["items"]
    assert {i["path"] for i in items} == {"helloget.py", "lib/x.py"}


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_base64_compressedtar_content(tmp_path, mode):
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, text in (("helloget.py", SOURCE), ("lib/x.py", "X = 1\n")):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    data = buffer.getvalue()
    document = function(**{"function-content-type": "base64+compressedtar",
                           "function": base64.b64encode(data).decode(),
                           "checksum": "sha256:" + hashlib.sha256(data).hexdigest()})
    spec = convert_function(document, tmp_path).spec
    config, deployment, _ = export_objects(spec, host_env={})
    items = deployment["spec"]["template"]["spec"]["volumes"][1]["configMap"]["items"]
    assert {i["path"] for i in items} == {"helloget.py", "lib/x.py"}


def test_base64_text_content(tmp_path):
    document = function(**{"function-content-type": "base64",
                           "function": base64.b64encode(SOURCE.encode()).decode()})
    assert Path(convert_function(document, tmp_path).spec.from_file).read_text() == SOURCE


def test_checksum_mismatch_is_refused(tmp_path):
    with pytest.raises(InvalidManifestError, match="sha256"):
        convert_function(function(checksum="sha256:" + "0" * 64), tmp_path)


@pytest.mark.parametrize("change, path", [
    ({"horizontalPodAutoscaler": {"spec": {"maxReplicas": 3}}}, "spec.horizontalPodAutoscaler"),
    ({"function-content-type": "url"}, "spec.function-content-type"),
    ({"deployment": {"spec": {"template": {"spec": {"volumes": [{"name": "v"}]}}}}},
     "spec.deployment.spec.template.spec.volumes"),
    ({"deployment": {"spec": {"template": {"spec": {"containers": [
        {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}]}}}}},
     "spec.deployment.spec.template.spec.containers[0].env[0].valueFrom"),
    ({"deployment": {"spec": {"template": {"spec": {"containers": [
        {"volumeMounts": [{"name": "v", "mountPath": "/v"}]}]}}}}},
     "spec.deployment.spec.template.spec.containers[0].volumeMounts"),
    ({"deployment": {"spec": {"template": {"spec": {"containers": [{}, {}]}}}}},
     "spec.deployment.spec.template.spec.containers[1]"),
    ({"service": {"ports": [{"port": 1}, {"port": 2}]}}, "spec.service.ports[1]"),
    ({"service": {"type": "ExternalName"}}, "spec.service.type"),
    ({"deployment": {"spec": {"template": {"spec": {"containers": [{"resources": {
        "limits": {"memory": "256Mi"}, "requests": {"memory": "64Mi"}}}]}}}}},
     "spec.deployment.spec.template.spec.containers[0].resources.requests.memory"),
    ({"topics": ["x"]}, "spec.topics"),
])
def test_unhonourable_fields_are_named_never_dropped(tmp_path, change, path):
    with pytest.raises(UnsupportedFieldError) as info:
        convert_function(function(**change), tmp_path)
    assert info.value.path == path
    assert info.value.code == "unsupported-function-field"
    assert path in str(info.value)


def test_empty_kubeless_defaults_are_accepted(tmp_path):
    # What `kubeless function deploy` itself wrote into a Function.
    document = function(deployment={"spec": {"template": {"spec": {"containers": [
        {"name": "", "resources": {}}]}}}}, horizontalPodAutoscaler={},
        service={"ports": [{"name": "http-function-port", "port": 8080, "protocol": "TCP",
                            "targetPort": 8080}],
                 "selector": {"created-by": "kubeless", "function": "get-python"},
                 "type": "ClusterIP"})
    document["metadata"].update({"uid": "abc", "resourceVersion": "1", "generation": 1,
                                 "creationTimestamp": "2020-01-01T00:00:00Z"})
    assert convert_function(document, tmp_path).spec.port == 8080


def test_wrong_kind_and_unknown_runtime(tmp_path):
    document = function()
    document["kind"] = "Deployment"
    with pytest.raises(InvalidManifestError, match="kind Function"):
        convert_function(document, tmp_path)
    with pytest.raises(UnknownRuntimeError):
        convert_function(function(runtime="cobol1"), tmp_path)


def test_load_manifests_reads_json_lists_and_yaml():
    one = function()
    assert load_manifests(json.dumps(one)) == [one]
    assert load_manifests(json.dumps({"kind": "List", "items": [one, one]})) == [one, one]
    yaml = pytest.importorskip("yaml")
    assert load_manifests(yaml.safe_dump_all([one, copy.deepcopy(one)])) == [one, one]


def test_cli_export_f_converts_a_manifest(tmp_path):
    manifest = tmp_path / "function.json"
    manifest.write_text(json.dumps(function()))
    result = subprocess.run([sys.executable, "-m", "kubeless_runtime", "export", "-f",
                             str(manifest)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    kinds = [item["kind"] for item in json.loads(result.stdout)["items"]]
    assert kinds == ["ConfigMap", "Deployment", "Service"]
    bad = tmp_path / "hpa.json"
    bad.write_text(json.dumps(function(horizontalPodAutoscaler={"spec": {"maxReplicas": 2}})))
    result = subprocess.run([sys.executable, "-m", "kubeless_runtime", "export", "-f", str(bad)],
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "[unsupported-function-field]" in result.stderr
    assert "spec.horizontalPodAutoscaler" in result.stderr
