"""Build the Node.js runtime images and deploy the Node examples in them, as Kubeless would.

Needs a Docker engine (scripts/setup-docker.sh).  The images (nodejs18, nodejs20 and the
distroless nodejs_distroless20, with their installation images) come from the session's
``runtime_images`` (conftest.py: built once per session under unique tags, removed at the
end); ``fn`` deletes every function a test deployed.  Only 127.0.0.1 published ports are used.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import time

import pytest

from kubeless_runtime.cli import main
from kubeless_runtime.tooling.deploy import LABEL_FUNCTION, DeployError, get_deployment
from kubeless_runtime.tooling.engine import import_docker

from .helpers import DISTROLESS, NODE_RUNTIMES, REPO, SESSION_LABELS, http, short

pytestmark = pytest.mark.container

EXAMPLES = REPO / "examples" / "nodejs"


# --- the images ---------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_runtime_image_runs_the_right_node_unprivileged(runtime_images, docker_engine, runtime):
    image = docker_engine.images.get(runtime_images.image(runtime))
    config = image.attrs["Config"]
    assert config["User"] == "1000:1000"
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Cmd"][-1] == "/opt/kubeless/kubeless.js"
    assert "NODE_PATH=/kubeless/node_modules" in config["Env"]
    node = "/usr/bin/node" if runtime == DISTROLESS else "node"
    out = docker_engine.containers.run(
        image.id, [node, "-p", "process.version + ' ' + process.getuid() + ' ' + "
                   "require('fs').existsSync('/tmp/ca-bundle.crt')"],
        remove=True, labels=SESSION_LABELS).decode().split()
    assert out[0].startswith(f"v{runtime[-2:]}."), out
    assert out[1:] == ["1000", "false"]  # the build's CA bundle stayed in the build stage
    print(f"\n{runtime}: node {out[0]}, image {image.attrs['Size'] / 1e6:.0f} MB")


def test_distroless_image_is_much_smaller(runtime_images, docker_engine):
    sizes = {runtime: docker_engine.images.get(runtime_images.image(runtime)).attrs["Size"]
             for runtime in ("nodejs20", DISTROLESS)}
    ratio = sizes[DISTROLESS] / sizes["nodejs20"]
    print(f"\nnodejs20 {sizes['nodejs20'] / 1e6:.0f} MB, {DISTROLESS} "
          f"{sizes[DISTROLESS] / 1e6:.0f} MB ({ratio:.0%})")
    # libnode (55 MB) and ICU (32 MB) alone are 87 MB: see images/nodejs/README.md
    assert sizes[DISTROLESS] < 115e6 and ratio < 0.6, sizes


DISTROLESS_FILES = re.compile(
    r"^(usr/bin/node|(usr/)?lib(64)?/[^/]+(/[^/]+)?\.so[.0-9]*|usr/share/nodejs/.+\.js"
    r"|etc/(ld\.so\.cache|passwd|group|ssl/certs/ca-certificates\.crt)"
    r"|etc/(hosts|hostname|resolv\.conf)|\.dockerenv|dev/console|opt/kubeless/.+)$")


def test_distroless_image_has_no_shell_npm_or_apt(fn, runtime_images, docker_engine):
    docker = import_docker()
    container = docker_engine.containers.create(
        runtime_images.image(DISTROLESS), ["/usr/bin/node", "-e", "setTimeout(() => {}, 30000)"],
        labels={LABEL_FUNCTION: fn.name("noshell"), **SESSION_LABELS})
    try:
        for path in ("/bin/sh", "/usr/bin/sh", "/bin/bash", "/bin/dash", "/usr/bin/env",
                     "/usr/bin/npm", "/usr/bin/npx", "/usr/share/nodejs/npm", "/usr/bin/apt",
                     "/usr/bin/apt-get", "/usr/bin/dpkg", "/var/lib/dpkg", "/etc/apt"):
            with pytest.raises(docker.errors.NotFound):
                container.get_archive(path)
        container.get_archive("/usr/bin/node")  # the control: the API does find files
        # Every file is node, a shared library, a node builtin, the server or a few /etc files.
        with tarfile.open(fileobj=io.BytesIO(b"".join(container.export())), mode="r|") as tar:
            members = [(m.name.removeprefix("./"), m.mode, m.isfile()) for m in tar]
        files = [name for name, _mode, is_file in members if is_file]
        assert "usr/bin/node" in files and len(files) > 100
        assert [name for name in files if not DISTROLESS_FILES.match(name)] == []
        engine_made = {".dockerenv", "dev/console", "etc/hosts", "etc/hostname",
                       "etc/resolv.conf"}  # by Docker, in every container
        executables = [name for name, mode, is_file in members
                       if is_file and mode & 0o111 and ".so" not in name
                       and not name.startswith("opt/kubeless/") and name not in engine_made]
        assert executables == ["usr/bin/node"]
        container.start()
        try:
            result = container.exec_run(["sh", "-c", "echo reached-a-shell"])
            assert result.exit_code != 0 and b"reached-a-shell" not in result.output
        except docker.errors.APIError as exc:  # some engines refuse the exec outright
            assert "not found" in str(exc) or "no such file" in str(exc).lower()
        result = container.exec_run(["/usr/bin/node", "-p", "6 * 7"])
        assert (result.exit_code, result.output.strip()) == (0, b"42")
    finally:
        container.remove(force=True)


# --- the examples -------------------------------------------------------------------------


BUSY = r"""
'use strict';
const fs = require('fs');
module.exports.handler = (event) => {
  const query = event.extensions.request.query;
  if (query.fast) return 'fast';
  if (query.check) return { sideEffect: fs.existsSync('/kubeless/side-effect') };
  const end = Date.now() + 3000;
  while (Date.now() < end) { /* a synchronous busy loop: no await where it could be stopped */ }
  console.log('SIDE-EFFECT after the deadline');
  fs.writeFileSync('/kubeless/side-effect', 'the function ran past its deadline');
  return 'too late';
};
"""


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_timeout_answers_408_and_really_stops_the_function(fn, runtime, tmp_path):
    source = tmp_path / "busy.js"
    source.write_text(BUSY)
    deployment = fn(f"busy{short(runtime)}", runtime, from_file=str(source),
                    handler="busy.handler", timeout=1)
    started = time.monotonic()
    status, answer = http(deployment.url)
    elapsed = time.monotonic() - started
    assert status == 408, answer
    assert 0.9 <= elapsed < 2.5, elapsed
    print(f"\n{runtime}: 408 after {elapsed:.2f}s (FUNC_TIMEOUT=1)")
    assert http(deployment.url + "/?fast=1") == (200, b"fast")  # the server serves on
    time.sleep(max(0.0, 4.0 - (time.monotonic() - started)))  # past when the loop would end
    status, answer = http(deployment.url + "/?check=1")
    assert status == 200 and json.loads(answer) == {"sideEffect": False}
    assert "SIDE-EFFECT" not in deployment.logs()
    status, metrics = http(deployment.url + "/metrics")
    assert b'function_failures_total{method="GET"} 1' in metrics


FLAKY = r"""
'use strict';
module.exports.handler = (event) => {
  if (event.data === 'boom') throw new Error('boom requested by the caller');
  return 'ok';
};
"""


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_error_answers_500_and_the_next_call_works(fn, runtime, tmp_path):
    source = tmp_path / "flaky.js"
    source.write_text(FLAKY)
    deployment = fn(f"err{short(runtime)}", runtime, from_file=str(source),
                    handler="flaky.handler")
    status, answer = http(deployment.url, data=b"boom", headers={"Content-Type": "text/plain"})
    assert status == 500, answer
    assert http(deployment.url) == (200, b"ok")
    assert "boom requested by the caller" in deployment.logs()


def test_load_error_fails_the_deploy_with_the_termination_message(fn, tmp_path):
    source = tmp_path / "broken.js"
    source.write_text("module.exports.handler = (event, context) => {\n  return 1;\n")
    with pytest.raises(DeployError) as info:
        fn("syntax", DISTROLESS, from_file=str(source), handler="broken.handler")
    assert info.value.phase == "runtime"
    assert "syntax error" in info.value.termination_message
    assert "broken.js" in info.value.termination_message


# --- the installation phase: NPM_REGISTRY / NPM_SCOPE never reach a shell -----------------

HOSTILE = ("http://127.0.0.1:9/x$(touch${IFS}/kubeless/pwned-sub);touch${IFS}/kubeless/"
           "pwned-semi;'\"`touch${IFS}/kubeless/pwned-tick`")
PROBE = r"""
'use strict';
const fs = require('fs');
const _ = require('lodash');
module.exports.handler = () => ({
  registry: process.env.NPM_REGISTRY,
  files: fs.readdirSync('/kubeless').sort(),
  lodash: _.camelCase('it works'),
});
"""


@pytest.mark.parametrize("runtime", ("nodejs18", "nodejs20"))
def test_npm_registry_value_is_never_run_as_a_command(fn, runtime, tmp_path):
    """A scope registry full of shell syntax: npm gets it as data, lodash still installs."""
    source = tmp_path / "probe.js"
    source.write_text(PROBE)
    deployment = fn(f"inject{short(runtime)}", runtime, from_file=str(source),
                    handler="probe.handler", dependencies=str(EXAMPLES / "package.json"),
                    env={"NPM_REGISTRY": HOSTILE, "NPM_SCOPE": "@myorg"})
    status, answer = http(deployment.url)
    assert status == 200, answer
    seen = json.loads(answer)
    assert seen["registry"] == HOSTILE
    assert seen["lodash"] == "itWorks"
    assert "node_modules" in seen["files"]
    assert not [name for name in seen["files"] if "pwned" in name], seen["files"]


def test_hostile_npm_scope_fails_the_installation_and_runs_nothing(fn, docker_engine):
    docker = import_docker()
    scope = "@x;touch /kubeless/pwned-scope;$(touch /kubeless/pwned-sub)'\""
    with pytest.raises(DeployError) as info:
        fn("scope", "nodejs20", from_file=str(EXAMPLES / "hellowithdeps.js"),
           handler="hellowithdeps.handler", dependencies=str(EXAMPLES / "package.json"),
           env={"NPM_REGISTRY": "https://npm.example.com/", "NPM_SCOPE": scope},
           keep_on_failure=True)
    assert info.value.phase == "installation"
    assert "is not an npm scope" in info.value.termination_message
    install = docker_engine.containers.get(f"kubeless-{fn.name('scope')}.installation")
    install.get_archive("/kubeless/package.json")  # the control: the volume is readable
    for name in ("pwned-scope", "pwned-sub"):
        with pytest.raises(docker.errors.NotFound):
            install.get_archive(f"/kubeless/{name}")


# --- the CLI ------------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", ("nodejs20", DISTROLESS))
def test_cli_deploy_call_ls_logs_delete(fn, runtime_images, capsys, runtime):
    name = fn.name(f"cli{short(runtime)}")
    runtime_image = runtime_images.image(runtime)
    try:
        assert main(["deploy", name, "--runtime", runtime, "--from-file",
                     str(EXAMPLES / "helloget.js"), "--handler", "helloget.foo",
                     "--runtime-image", runtime_image]) == 0
        assert "http://127.0.0.1:" in capsys.readouterr().out
        assert main(["call", name]) == 0
        assert capsys.readouterr().out == "hello world\n"
        assert main(["ls"]) == 0
        row = next(r for r in capsys.readouterr().out.splitlines() if r.startswith(name + " "))
        assert runtime in row.split() and "helloget.foo" in row and "1/1 READY" in row
        assert main(["logs", name]) == 0
        assert "Serving helloget.foo" in capsys.readouterr().out
        assert get_deployment(name).image == runtime_image
    finally:
        assert main(["delete", name]) == 0
    assert main(["call", name]) == 1
    assert "not found" in capsys.readouterr().err
