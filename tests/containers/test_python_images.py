"""Build the Python runtime images and deploy the examples in them, as Kubeless would.

Needs a Docker engine (scripts/setup-docker.sh).  The images are built once per session
under unique tags (kubeless-runtime-test/...:<version>-<random>) and removed at the end,
with every container and volume the tests made.  Only 127.0.0.1 published ports are used.

Environment: KUBELESS_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt when present)
reaches pip; KUBELESS_TEST_NOCACHE=1 builds without the layer cache; KUBELESS_REQUIRE_DOCKER=1
fails instead of skipping when no engine answers.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import secrets
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Dict, Optional

import pytest

from kubeless_runtime.catalog import load_catalog
from kubeless_runtime.cli import main
from kubeless_runtime.deploy import (
    LABEL_FUNCTION,
    DeployError,
    FunctionNotFoundError,
    UnsafeArchiveError,
    delete_deployment,
    deploy,
    get_deployment,
    list_deployments,
)
from kubeless_runtime.engine import EngineError, get_client
from kubeless_runtime.images import build_images, remove_images

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "python"
RUN_ID = secrets.token_hex(3)
PREFIX = f"t{RUN_ID}"  # every function name starts with it, so the finalizer finds leftovers
RUNTIMES = ("python3.11", "python3.13")
HTTP_TIMEOUT = 30


def ca_bundle() -> Optional[str]:
    value = os.environ.get("KUBELESS_CA_BUNDLE")
    if value:
        return value
    default = "/etc/ssl/certs/ca-certificates.crt"
    return default if Path(default).is_file() else None


def http(url: str, data: Optional[bytes] = None, method: Optional[str] = None,
         headers: Optional[Dict[str, str]] = None):
    """(status, body) of one bounded request to a loopback URL."""
    assert url.startswith("http://127.0.0.1:"), url
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="session")
def client():
    try:
        return get_client()
    except EngineError as exc:
        if os.environ.get("KUBELESS_REQUIRE_DOCKER") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def catalog(client):
    """The shipped catalog under unique test tags; builds the images, removes them at the end."""
    test_catalog = load_catalog().retagged(
        lambda ref: ref.replace("kubeless-runtime/", "kubeless-runtime-test/", 1)
        + f"-{RUN_ID}")
    started = time.monotonic()
    existing = {image.id for image in client.images.list(all=True)}
    built = []
    try:
        built = build_images(list(RUNTIMES), ca_bundle=ca_bundle(), catalog=test_catalog,
                             client=client, nocache=os.environ.get("KUBELESS_TEST_NOCACHE") == "1",
                             progress=lambda line: None)
        print(f"\nbuilt {len(built)} test images in {time.monotonic() - started:.1f}s: "
              + ", ".join(f"{b.tag} {b.size_mb:.0f} MB" for b in built))
        yield test_catalog
    finally:
        for container in client.containers.list(all=True, filters={"label": LABEL_FUNCTION}):
            if container.labels.get(LABEL_FUNCTION, "").startswith(PREFIX):
                container.remove(force=True, v=True)
        for volume in client.volumes.list(filters={"label": LABEL_FUNCTION}):
            if (volume.attrs.get("Labels") or {}).get(LABEL_FUNCTION, "").startswith(PREFIX):
                volume.remove(force=True)
        tags = [image.image for runtime in test_catalog.runtimes for image in runtime.images]
        remove_images(tags, client=client)
        # Build-stage images this session created (the cache of an earlier build is kept).
        for stage in {stage for image in built for stage in image.stage_images}:
            if not any(known.split(":")[-1].startswith(stage) for known in existing):
                try:
                    client.images.remove(stage)
                except Exception:  # noqa: BLE001 - still used by another image: keep it
                    pass


@pytest.fixture
def fn(catalog, client, request):
    """deploy() with the test catalog and a unique name; deletes the function afterwards."""
    names = []

    def run(label: str, runtime: str = "python3.11", **kwargs):
        name = f"{PREFIX}-{label}"
        names.append(name)
        kwargs.setdefault("catalog", catalog)
        kwargs.setdefault("client", client)
        return deploy(name, runtime, **kwargs)

    yield run
    for name in names:
        try:
            delete_deployment(name, client=client)
        except FunctionNotFoundError:
            pass


def image_of(catalog, runtime: str, phase: str = "runtime") -> str:
    return catalog.runtime(runtime).image(phase).image


# --- the images ---------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runtime_image_is_small_unprivileged_and_has_no_ca_bundle(catalog, client, runtime):
    image = client.images.get(image_of(catalog, runtime))
    assert image.attrs["Size"] < 150e6, f"{runtime} image is {image.attrs['Size'] / 1e6:.0f} MB"
    config = image.attrs["Config"]
    assert config["User"] == "1000:1000"
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Cmd"] == ["python3", "-m", "kubeless_runtime"]
    assert "PYTHONUNBUFFERED=1" in config["Env"]
    version = runtime.replace("python", "")
    out = client.containers.run(
        image.id, ["sh", "-c", "id -u; python3 -c 'import sys; print(\"%d.%d\" % "
                   "sys.version_info[:2])'; ls /tmp/build 2>&1; command -v pip || echo no-pip"],
        remove=True).decode()
    assert out.splitlines()[0] == "1000"
    assert out.splitlines()[1] == version
    assert "No such file" in out and "no-pip" in out


# --- the examples -------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", RUNTIMES)
def test_helloget(fn, runtime):
    started = time.monotonic()
    deployment = fn(f"get{runtime[-2:]}", runtime, from_file=str(EXAMPLES / "helloget.py"),
                    handler="helloget.foo")
    elapsed = time.monotonic() - started
    print(f"\n{runtime} helloget deploy-to-first-200: {elapsed:.2f}s")
    assert http(deployment.url) == (200, b"hello world")
    assert http(deployment.url + "/healthz")[0] == 200
    status, metrics = http(deployment.url + "/metrics")
    assert status == 200 and b"function" in metrics
    assert deployment.url.startswith("http://127.0.0.1:")
    assert elapsed < 15


def test_hellowithdata_echoes_the_body(fn):
    deployment = fn("data", from_file=str(EXAMPLES / "hellowithdata.py"),
                    handler="hellowithdata.handler")
    body = json.dumps({"hello": "world", "n": [1, 2]}).encode()
    status, answer = http(deployment.url, data=body, headers={"Content-Type": "application/json"})
    assert status == 200
    assert json.loads(answer) == {"hello": "world", "n": [1, 2]}
    assert "hello" in deployment.logs()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_hellowithdeps_installs_requirements_in_the_installation_phase(fn, runtime):
    deployment = fn(f"deps{runtime[-2:]}", runtime, from_file=str(EXAMPLES / "hellowithdeps.py"),
                    handler="hellowithdeps.handler",
                    dependencies=str(EXAMPLES / "requirements.txt"), ca_bundle=ca_bundle())
    status, answer = http(deployment.url, data=b"a: 1\nb: [x, y]\n",
                          headers={"Content-Type": "text/plain"})
    assert status == 200, answer
    assert json.loads(answer) == {"a": 1, "b": ["x", "y"]}


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
    deployment = fn("zip", from_file=str(bundle), handler="main.handler")
    assert http(deployment.url) == (200, b"hello from a zip")


def test_syntax_error_fails_deploy_with_the_termination_message(fn, client, tmp_path):
    source = tmp_path / "broken.py"
    source.write_text("def handler(event, context:\n    return 1\n")
    with pytest.raises(DeployError) as info:
        fn("syntax", from_file=str(source), handler="broken.handler", probe_timeout=30)
    error = info.value
    assert error.phase == "runtime"
    assert "Syntax error" in error.termination_message
    assert "broken.py" in error.termination_message
    assert "Syntax error" in error.log_tail
    assert not client.containers.list(all=True, filters={"label": f"{LABEL_FUNCTION}="
                                                         f"{PREFIX}-syntax"})


def test_failing_installation_reports_pip_error(fn, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("kubeless-runtime-no-such-package-xyz==0.0.1\n")
    with pytest.raises(DeployError) as info:
        fn("badreq", from_file=str(EXAMPLES / "helloget.py"), handler="helloget.foo",
           dependencies=str(requirements), ca_bundle=ca_bundle())
    assert info.value.phase == "installation"
    assert "pip install -r /kubeless/requirements.txt failed" in info.value.termination_message
    assert "kubeless-runtime-no-such-package-xyz" in info.value.log_tail


def test_zip_with_parent_entries_is_refused(fn, client, tmp_path):
    bundle = tmp_path / "evil.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("main.py", "def handler(e, c):\n    return 'x'\n")
        archive.writestr("../../etc/evil.py", "print('escaped')\n")
    with pytest.raises(UnsafeArchiveError, match="escapes the function folder"):
        fn("evil", from_file=str(bundle), handler="main.handler")
    assert not client.volumes.list(filters={"label": f"{LABEL_FUNCTION}={PREFIX}-evil"})


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


def test_shell_metacharacters_in_values_stay_literal(fn, catalog, tmp_path):
    """Values reach the phase as env vars only: sh expands "$VAR" without re-parsing it."""
    injection = "\"'; touch pwned-env; echo $(touch pwned-sub) `touch pwned-tick` $HOME \\ #"
    dep_name = "req's; touch pwned-dep; $(touch pwned-dep2) \"x\".txt"
    runtime = catalog.runtime("python3.11")
    install = runtime.image("installation")
    # The shipped pip command, preceded by a step that records $INJECT as the shell sees it.
    install = dataclasses.replace(
        install, command='printf %s "$INJECT" > "$KUBELESS_INSTALL_VOLUME/inject-seen"; '
                         + install.command)
    hostile = catalog.with_runtime(dataclasses.replace(
        runtime, dep_name=dep_name, images=(install, runtime.image("runtime"))))
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE_FUNCTION)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("PyYAML\n")
    deployment = fn("inject", from_file=str(probe), handler="probe.handler",
                    dependencies=str(requirements), env={"INJECT": injection},
                    catalog=hostile, ca_bundle=ca_bundle())
    status, answer = http(deployment.url)
    assert status == 200, answer
    seen = json.loads(answer)
    assert seen["env"] == injection
    assert seen["inject_seen"] == injection
    assert dep_name in seen["files"], seen["files"]
    assert seen["yaml"], "pip installed the dependency file with the hostile name"
    assert not [name for name in seen["files"] if name.startswith("pwned")], seen["files"]


def test_custom_runtime_image_without_handler(fn, catalog, client, tmp_path):
    """A --runtime-image the catalog does not know, no handler: the file is /kubeless/function."""
    base = image_of(catalog, "python3.11", "installation")
    tag = f"kubeless-runtime-test/custom:{RUN_ID}"
    dockerfile = (f"FROM {base}\n"
                  'CMD ["python3", "-m", "http.server", "8080", "--directory", "/kubeless"]\n')
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True,
                        forcerm=True)
    try:
        page = tmp_path / "index.html"
        page.write_text("custom image works")
        deployment = fn("custom", None, from_file=str(page), runtime_image=tag)
        assert deployment.runtime == "custom"
        assert http(deployment.url + "/function") == (200, b"custom image works")
        delete_deployment(deployment.name, client=client)
    finally:
        remove_images([tag], client=client)


def test_cli_deploy_call_ls_logs_delete(catalog, capsys):
    name = f"{PREFIX}-cli"
    runtime_image = image_of(catalog, "python3.11")
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
        env = dict(item.split("=", 1) for item in
                   get_client().containers.get(deployment.container_id).attrs["Config"]["Env"])
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
