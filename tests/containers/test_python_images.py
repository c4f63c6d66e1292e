"""Build the Python runtime images and deploy the examples in them, as Kubeless would.

Needs a Docker engine (scripts/setup-docker.sh).  The images come from the session's
``runtime_images`` (conftest.py: built once per session under unique tags, removed at the
end); ``fn`` deletes every function a test deployed.  Only 127.0.0.1 published ports are used.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import pytest

from kubeless_runtime.cli import main
from kubeless_runtime.tooling.deploy import (
    LABEL_FUNCTION,
    DeployError,
    UnsafeArchiveError,
    delete_deployment,
    get_deployment,
    list_deployments,
)
from kubeless_runtime.tooling.images import remove_images

from .helpers import PYTHON_RUNTIMES, REPO, SESSION_ID, SESSION_LABELS, container_env, http

pytestmark = pytest.mark.container

EXAMPLES = REPO / "examples" / "python"


# --- the images ---------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", PYTHON_RUNTIMES)
def test_runtime_image_is_small_unprivileged_and_has_no_ca_bundle(runtime_images, docker_engine,
                                                                   runtime):
    image = docker_engine.images.get(runtime_images.image(runtime))
    budget = runtime_images.catalog.runtime(runtime).image("runtime").size_budget_mb
    size = image.attrs["Size"] / 1e6
    assert size < budget, f"{runtime} image is {size:.0f} MB, over its {budget} MB budget"
    config = image.attrs["Config"]
    assert config["User"] == "1000:1000"
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Cmd"] == ["python3", "-m", "kubeless_runtime"]
    assert "PYTHONUNBUFFERED=1" in config["Env"]
    version = runtime.replace("python", "")
    out = docker_engine.containers.run(
        image.id, ["sh", "-c", "id -u; python3 -c 'import sys; print(\"%d.%d\" % "
                   "sys.version_info[:2])'; ls /tmp/build 2>&1; command -v pip || echo no-pip"],
        remove=True, labels=SESSION_LABELS).decode()
    assert out.splitlines()[0] == "1000"
    assert out.splitlines()[1] == version
    assert "No such file" in out and "no-pip" in out


# --- the examples -------------------------------------------------------------------------


def test_zip_bundle_deploys(fn, tmp_path):
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("main.py", "from helper import greet\n\n"
                                    "def handler(event, context):\n    return greet()\n")
        archive.writestr("helper.py", "from pathlib import Path\n\n"
                                      "def greet():\n"
                                      "    return (Path(__file__).parent / 'data' / "
                                      "'msg.txt').read_text()\n")
        archive.writestr("data/msg.txt", "hello from a zip")
    deployment = fn("zip", "python3.11", from_file=str(bundle), handler="main.handler")
    assert http(deployment.url) == (200, b"hello from a zip")


def test_syntax_error_fails_deploy_with_the_termination_message(fn, docker_engine, tmp_path):
    source = tmp_path / "broken.py"
    source.write_text("def handler(event, context:\n    return 1\n")
    with pytest.raises(DeployError) as info:
        fn("syntax", "python3.11", from_file=str(source), handler="broken.handler",
           probe_timeout=30)
    error = info.value
    assert error.phase == "runtime"
    assert "Syntax error" in error.termination_message
    assert "broken.py" in error.termination_message
    assert "Syntax error" in error.log_tail
    assert not docker_engine.containers.list(
        all=True, filters={"label": f"{LABEL_FUNCTION}={fn.name('syntax')}"})


def test_failing_installation_reports_pip_error(fn, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("kubeless-runtime-no-such-package-xyz==0.0.1\n")
    with pytest.raises(DeployError) as info:
        fn("badreq", "python3.11", from_file=str(EXAMPLES / "helloget.py"),
           handler="helloget.foo", dependencies=str(requirements))
    assert info.value.phase == "installation"
    assert "pip install -r /kubeless/requirements.txt failed" in info.value.termination_message
    assert "kubeless-runtime-no-such-package-xyz" in info.value.log_tail


def test_zip_with_parent_entries_is_refused(fn, docker_engine, tmp_path):
    bundle = tmp_path / "evil.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("main.py", "def handler(e, c):\n    return 'x'\n")
        archive.writestr("../../etc/evil.py", "print('escaped')\n")
    with pytest.raises(UnsafeArchiveError, match="escapes the function folder"):
        fn("evil", "python3.11", from_file=str(bundle), handler="main.handler")
    assert not docker_engine.volumes.list(filters={"label": f"{LABEL_FUNCTION}={fn.name('evil')}"})


PROBE_FUNCTION = """
import json, os

def handler(event, context):
    try:
        import yaml
    except ImportError:
        yaml = None
    with open("/kubeless/inject-seen") as handle:
        seen = handle.read()
    return json.dumps({"env": os.environ.get("INJECT"), "inject_seen": seen,
                       "files": sorted(os.listdir("/kubeless")), "yaml": yaml is not None})
"""


def test_shell_metacharacters_in_values_stay_literal(fn, runtime_images, tmp_path):
    """Values reach the phase as env vars only: sh expands "$VAR" without re-parsing it."""
    injection = "\"'; touch pwned-env; echo $(touch pwned-sub) `touch pwned-tick` $HOME \\ #"
    dep_name = "req's; touch pwned-dep; $(touch pwned-dep2) \"x\".txt"
    runtime = runtime_images.runtime("python3.11")
    install = runtime.image("installation")
    # The shipped pip command, preceded by a step that records $INJECT as the shell sees it.
    install = dataclasses.replace(
        install, command='printf %s "$INJECT" > "$KUBELESS_INSTALL_VOLUME/inject-seen"; '
                         + install.command)
    hostile = runtime_images.catalog.with_runtime(dataclasses.replace(
        runtime, dep_name=dep_name, images=(install, runtime.image("runtime"))))
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE_FUNCTION)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("PyYAML\n")
    deployment = fn("inject", "python3.11", from_file=str(probe), handler="probe.handler",
                    dependencies=str(requirements), env={"INJECT": injection},
                    catalog=hostile)
    status, answer = http(deployment.url)
    assert status == 200, answer
    seen = json.loads(answer)
    assert seen["env"] == injection
    assert seen["inject_seen"] == injection
    assert dep_name in seen["files"], seen["files"]
    assert seen["yaml"], "pip installed the dependency file with the hostile name"
    assert not [name for name in seen["files"] if name.startswith("pwned")], seen["files"]


def test_custom_runtime_image_without_handler(fn, runtime_images, docker_engine, tmp_path):
    """A --runtime-image the catalog does not know, no handler: the file is /kubeless/function."""
    base = runtime_images.image("python3.11", "installation")
    tag = f"kubeless-runtime-test/custom:s{SESSION_ID}"
    dockerfile = (f"FROM {base}\n"
                  'CMD ["python3", "-m", "http.server", "8080", "--directory", "/kubeless"]\n')
    docker_engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True,
                               forcerm=True, labels=SESSION_LABELS)
    try:
        page = tmp_path / "index.html"
        page.write_text("custom image works")
        deployment = fn("custom", None, from_file=str(page), runtime_image=tag)
        assert deployment.runtime == "custom"
        assert http(deployment.url + "/function") == (200, b"custom image works")
        delete_deployment(deployment.name, client=docker_engine)
    finally:
        remove_images([tag], client=docker_engine)


def test_cli_deploy_call_ls_logs_delete(fn, runtime_images, docker_engine, capsys):
    name = fn.name("cli")
    runtime_image = runtime_images.image("python3.11")
    try:
        assert main(["deploy", name, "--runtime", "python3.11", "--from-file",
                     str(EXAMPLES / "hellowithdata.py"), "--handler", "hellowithdata.handler",
                     "--runtime-image", runtime_image, "--env", "A=1", "--memory", "96Mi"]) == 0
        assert "http://127.0.0.1:" in capsys.readouterr().out
        assert main(["call", name, "--data", '{"x": 1}']) == 0
        assert json.loads(capsys.readouterr().out) == {"x": 1}
        assert main(["ls"]) == 0
        listing = capsys.readouterr().out
        header, *rows = listing.splitlines()
        assert header.split() == ["NAME", "RUNTIME", "HANDLER", "STATUS", "PORT"]
        row = next(r for r in rows if r.startswith(name + " "))
        assert "python3.11" in row and "hellowithdata.handler" in row and "1/1 READY" in row
        assert main(["logs", name]) == 0
        assert "x" in capsys.readouterr().out
        deployment = get_deployment(name)
        assert deployment.host_port and deployment.image == runtime_image
        assert name in [d.name for d in list_deployments()]
        env = container_env(docker_engine, deployment.container_id)
        assert env["FUNC_MEMORY_LIMIT"] == "96Mi" and env["A"] == "1"
        assert main(["deploy", name, "--runtime", "python3.11", "--from-file",
                     str(EXAMPLES / "helloget.py"), "--handler", "helloget.foo",
                     "--runtime-image", runtime_image]) == 1
        assert "already exists" in capsys.readouterr().err
    finally:
        assert main(["delete", name]) == 0
    assert main(["delete", name]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["call", name]) == 1
