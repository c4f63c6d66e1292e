"""deploy.py without a Docker engine: zip safety, memory, env, what each phase container gets."""

from __future__ import annotations

import dataclasses
import io
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import kubeless_runtime.bundle as bundle_mod
from kubeless_runtime.contract import parse_env_pairs, split_handler
from kubeless_runtime.errors import UsageError
from kubeless_runtime.quantity import format_memory, parse_memory
from kubeless_runtime.tooling.catalog import UnknownRuntimeError, load_catalog
from kubeless_runtime.tooling.deploy import (
    DeployError,
    DeploySpec,
    EngineRefusedError,
    InvalidSpecError,
    UnsafeArchiveError,
    deploy,
    expand_references,
    plan_deployment,
    safe_bundle_entries,
    source_archive,
    validate_env,
    validate_name,
)
from kubeless_runtime.tooling.deploy import handles as handles_mod
from kubeless_runtime.tooling.deploy import run as deploy_mod

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "python"


def plan_(name, runtime=None, *, catalog=None, host_env=None, **fields):
    return plan_deployment(DeploySpec(name, runtime, **fields), catalog=catalog,
                           host_env=host_env)


def deploy_(name, runtime=None, *, client=None, **fields):
    return deploy(DeploySpec(name, runtime, **fields), client)


INJECTION = "\"'; touch /kubeless/pwned; echo $(id) `id` $HOME \\\" && rm -rf / #"


# --- memory -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("128Mi", 128 * 2**20), ("1Gi", 2**30), ("512M", 512 * 10**6), ("1.5Gi", 3 * 2**29),
    ("134217728", 134217728), ("1e9", 10**9), ("64Mi", 64 * 2**20), (" 256Mi ", 256 * 2**20),
    ("2G", 2 * 10**9), ("100000k", 10**8),
])
def test_parse_memory_accepts_kubernetes_quantities(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text, message", [
    ("512m", "unknown suffix 'm'"), ("1KB", "unknown suffix"), ("abc", "not a quantity"),
    ("", "not a quantity"), ("-1Gi", "not a quantity"), ("1Ki", "below the 6Mi"),
    ("0.5", "whole number"), ("12.5", "whole number"),
])
def test_parse_memory_refuses_bad_values(text, message):
    with pytest.raises(UsageError, match=message):
        parse_memory(text)


@pytest.mark.parametrize("text, expected", [
    ("128Mi", "128Mi"), ("1024Mi", "1Gi"), ("512M", "512M"), ("1000M", "1G"),
    ("134217728", "134217728"),
])
def test_format_memory_is_the_kubernetes_canonical_form(text, expected):
    assert format_memory(text) == expected


# --- names, handler, env ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["hello", "hello-get", "a", "f1", "x" * 63])
def test_valid_function_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["Hello", "-a", "a-", "a_b", "a.b", "", "x" * 64, "a b", "a;b"])
def test_invalid_function_names(name):
    with pytest.raises(InvalidSpecError, match="invalid"):
        validate_name(name)


def test_split_handler():
    assert split_handler("helloget.foo") == ("helloget", "foo")
    assert split_handler("pkg.mod.handler") == ("pkg.mod", "handler")
    for bad in ("helloget", ".foo", "helloget.", "a/b.c", "a b.c", ""):
        with pytest.raises(UsageError):
            split_handler(bad)


def test_env_values_are_kept_verbatim():
    env = validate_env({"A": INJECTION, "N": 3, "E": None})
    assert env == {"A": INJECTION, "N": "3", "E": ""}


@pytest.mark.parametrize("env, message", [
    ({"FUNC_PORT": "1"}, "set by the deploy"), ({"MOD_NAME": "x"}, "set by the deploy"),
    ({"1A": "x"}, "invalid"), ({"A B": "x"}, "invalid"), ({"A=B": "x"}, "invalid"),
    ({"A": ["x"]}, "must be a string"),
])
def test_env_refusals(env, message):
    with pytest.raises(InvalidSpecError, match=message):
        validate_env(env)


def test_parse_env_pairs_keeps_equals_in_values():
    assert parse_env_pairs(["A=b=c", "EMPTY="]) == {"A": "b=c", "EMPTY": ""}
    with pytest.raises(UsageError):
        parse_env_pairs(["NOVALUE"])


def test_expand_references_like_kubernetes():
    defined = {"KUBELESS_INSTALL_VOLUME": "/kubeless"}
    assert expand_references("$(KUBELESS_INSTALL_VOLUME)/node_modules", defined) == \
        "/kubeless/node_modules"
    assert expand_references("$(UNDEFINED)/x", defined) == "$(UNDEFINED)/x"
    assert expand_references("$$(KUBELESS_INSTALL_VOLUME)", defined) == \
        "$(KUBELESS_INSTALL_VOLUME)"


# --- zip safety ---------------------------------------------------------------------------

def make_zip(entries) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def test_safe_bundle_entries_accepts_a_normal_bundle():
    data = make_zip([("main.py", "x = 1\n", None), ("pkg/", "", stat.S_IFDIR | 0o755),
                     ("pkg/helper.py", "y = 2\n", stat.S_IFREG | 0o644),
                     ("./bin/run.sh", "#!/bin/sh\n", stat.S_IFREG | 0o755)])
    entries = {name: (content, mode) for name, content, mode in safe_bundle_entries(data)}
    assert entries["main.py"] == (b"x = 1\n", 0o644)
    assert entries["pkg"] == (None, 0o755)
    assert entries["pkg/helper.py"][0] == b"y = 2\n"
    assert entries["bin/run.sh"] == (b"#!/bin/sh\n", 0o755)


@pytest.mark.parametrize("name, mode, message", [
    ("../evil.py", None, "escapes the function folder"),
    ("a/../../evil.py", None, "escapes the function folder"),
    ("..\\evil.py", None, "escapes the function folder"),
    ("/etc/passwd", None, "absolute path"),
    ("C:/windows/evil.py", None, "absolute path"),
    ("link", stat.S_IFLNK | 0o777, "symbolic link"),
    ("fifo", stat.S_IFIFO | 0o644, "not a regular file"),
])
def test_safe_bundle_entries_refuses_escapes_and_links(name, mode, message):
    data = make_zip([("ok.py", "x", None), (name, "/etc/passwd", mode)])
    with pytest.raises(UnsafeArchiveError, match=message):
        safe_bundle_entries(data, "bundle.zip")


def test_unsafe_archive_error_is_a_usage_error_with_a_code():
    with pytest.raises(UsageError) as info:
        safe_bundle_entries(make_zip([("../x", "", None)]))
    assert info.value.phase == "preparation" and info.value.code == "unsafe-archive"
    assert not isinstance(info.value, DeployError)


def test_zip_bomb_limit(monkeypatch):
    monkeypatch.setattr(bundle_mod, "MAX_BUNDLE_BYTES", 1000)
    with pytest.raises(UnsafeArchiveError, match="unpacks to more than"):
        safe_bundle_entries(make_zip([("big", "x" * 2000, None)]))


def test_not_a_zip():
    with pytest.raises(InvalidSpecError, match="not a readable zip"):
        safe_bundle_entries(b"not a zip", "f.zip")


# --- the preparation archive --------------------------------------------------------------

def archive_members(data: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else None, m.mode)
                for m in tar.getmembers()}


def test_source_archive_single_file_and_dependencies(tmp_path):
    runtime = load_catalog().runtime("python3.11")
    deps = tmp_path / "reqs-with-any-name.txt"
    deps.write_text("PyYAML\n")
    members = archive_members(source_archive(runtime, "helloget",
                                             str(EXAMPLES / "helloget.py"), str(deps)))
    assert members["kubeless"] == (None, 0o777)
    assert members["kubeless/helloget.py"][0] == (EXAMPLES / "helloget.py").read_bytes()
    assert members["kubeless/requirements.txt"][0] == b"PyYAML\n"
    assert len(members) == 3


def test_source_archive_custom_runtime_stores_function_without_extension(tmp_path):
    source = tmp_path / "index.html"
    source.write_text("<h1>hi</h1>")
    members = archive_members(source_archive(None, "", str(source), None))
    assert members["kubeless/function"][0] == b"<h1>hi</h1>"


def test_source_archive_extracts_zip_bundles(tmp_path):
    bundle = tmp_path / "fn.zip"
    bundle.write_bytes(make_zip([("main.py", "x", None), ("lib/util.py", "y", None)]))
    members = archive_members(source_archive(load_catalog().runtime("python3.11"), "main",
                                             str(bundle), None))
    assert set(members) == {"kubeless", "kubeless/main.py", "kubeless/lib/util.py"}


def test_source_archive_refuses_an_unsafe_zip(tmp_path):
    bundle = tmp_path / "evil.zip"
    bundle.write_bytes(make_zip([("../../etc/cron.d/evil", "x", None)]))
    with pytest.raises(UnsafeArchiveError):
        source_archive(load_catalog().runtime("python3.11"), "main", str(bundle), None)


# --- the plan: what every container gets ---------------------------------------------------

def test_plan_runtime_env_matches_kubeless():
    plan = plan_("hello", "python3.11", from_file=str(EXAMPLES / "helloget.py"),
                           handler="helloget.foo", env={"GREETING": INJECTION}, timeout=7,
                           memory="256Mi", port=8080, host_env={})
    assert plan.images == {"runtime": "kubeless-runtime/python:3.11"}  # no deps: no install
    env = plan.runtime_env
    assert env["MOD_NAME"] == "helloget" and env["FUNC_HANDLER"] == "foo"
    assert env["FUNC_TIMEOUT"] == "7" and env["FUNC_RUNTIME"] == "python3.11"
    assert env["FUNC_MEMORY_LIMIT"] == "256Mi" and env["FUNC_PORT"] == "8080"
    assert env["KUBELESS_INSTALL_VOLUME"] == "/kubeless"
    assert env["GREETING"] == INJECTION
    assert plan.memory == 256 * 2**20
    assert plan.probe_path == "/healthz" and not plan.probe_any_status


def test_plan_installation_gets_values_only_as_env(tmp_path):
    deps = tmp_path / "requirements.txt"
    deps.write_text("PyYAML\n")
    catalog = load_catalog()
    command = catalog.runtime("python3.11").image("installation").command
    plan = plan_("deps", "python3.11", from_file=str(EXAMPLES / "hellowithdeps.py"),
                           handler="hellowithdeps.handler", dependencies=str(deps),
                           env={"INJECT": INJECTION}, catalog=catalog,
                           host_env={"PIP_INDEX_URL": "https://example.invalid/simple",
                                     "PIP_FIND_LINKS": "/opt/wheels"})
    assert plan.images["installation"] == "kubeless-runtime/python-init:3.11"
    # the command is the catalog's text, byte for byte: no value was spliced into it
    assert plan.commands["installation"] == command
    assert INJECTION not in command
    env = plan.phase_env["installation"]
    assert env["KUBELESS_INSTALL_VOLUME"] == "/kubeless"
    assert env["KUBELESS_DEPS_FILE"] == "/kubeless/requirements.txt"
    assert env["KUBELESS_FUNC_NAME"] == "deps"
    assert env["INJECT"] == INJECTION
    assert env["PIP_INDEX_URL"] == "https://example.invalid/simple"
    assert "PIP_FIND_LINKS" not in env  # a host path means nothing inside the container
    assert env["PIP_NO_CACHE_DIR"] == "1"  # catalog env


def test_plan_overrides_images_and_keeps_dependency_name():
    plan = plan_("x", "python3.13", from_file=str(EXAMPLES / "hellowithdeps.py"),
                           handler="hellowithdeps.handler",
                           dependencies=str(EXAMPLES / "requirements.txt"),
                           runtime_image="mine/py:1", installation_image="mine/init:1",
                           host_env={})
    assert plan.images == {"installation": "mine/init:1", "runtime": "mine/py:1"}


def test_plan_custom_image_needs_no_handler(tmp_path):
    plan = plan_("tomcat", None, runtime_image="bitnami/tomcat:9.0", host_env={})
    assert plan.images == {"runtime": "bitnami/tomcat:9.0"}
    assert "MOD_NAME" not in plan.runtime_env and "FUNC_HANDLER" not in plan.runtime_env
    assert plan.probe_any_status and plan.probe_path == "/"
    plan = plan_("web", "mylang1", runtime_image="me/web:1", host_env={})
    assert plan.runtime_name == "mylang1"


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(runtime="python2.7", from_file="x.py", handler="x.y"), UnknownRuntimeError,
     "python3.11"),
    (dict(runtime="python3.11", from_file=str(EXAMPLES / "helloget.py")), InvalidSpecError,
     "needs --handler"),
    (dict(runtime="python3.11", handler="x.y"), InvalidSpecError, "--from-file is required"),
    (dict(runtime="python3.11", from_file="/nonexistent.py", handler="x.y"), InvalidSpecError,
     "does not exist"),
    (dict(runtime="python3.11", from_file=str(EXAMPLES / "helloget.py"), handler="helloget.foo",
          dependencies="/nonexistent.txt"), InvalidSpecError, "does not exist"),
    (dict(runtime="python3.11", from_file=str(EXAMPLES / "helloget.py"), handler="helloget.foo",
          memory="1x"), InvalidSpecError, "memory"),
    (dict(runtime="python3.11", from_file=str(EXAMPLES / "helloget.py"), handler="helloget.foo",
          port=70000), InvalidSpecError, "not a TCP port"),
    (dict(runtime="python3.11", from_file=str(EXAMPLES / "helloget.py"), handler="helloget.foo",
          timeout=0), InvalidSpecError, "timeout"),
    (dict(runtime=None), InvalidSpecError, "--runtime"),
])
def test_plan_refusals(kwargs, error, message):
    with pytest.raises(error, match=message):
        plan_("fn", host_env={}, **kwargs)


def test_catalog_env_references_are_expanded():
    catalog = load_catalog()
    runtime = catalog.runtime("python3.11")
    image = dataclasses.replace(runtime.image("runtime"),
                                env={"NODE_PATH": "$(KUBELESS_INSTALL_VOLUME)/node_modules"})
    catalog = catalog.with_runtime(dataclasses.replace(
        runtime, images=(runtime.image("installation"), image)))
    plan = plan_("x", "python3.11", from_file=str(EXAMPLES / "helloget.py"),
                           handler="helloget.foo", env={"USER_VALUE": "$(KUBELESS_FUNC_NAME)"},
                           catalog=catalog, host_env={})
    assert plan.runtime_env["NODE_PATH"] == "/kubeless/node_modules"
    assert plan.runtime_env["USER_VALUE"] == "$(KUBELESS_FUNC_NAME)"  # user values verbatim


# --- the engine calls, with a fake client -------------------------------------------------

class FakeContainer:
    def __init__(self, engine, kwargs):
        self.engine = engine
        self.kwargs = kwargs
        self.id = f"id{len(engine.created)}"
        self.name = kwargs["name"]
        self.labels = kwargs["labels"]
        self.status = "created"
        self.attrs = {"State": {"ExitCode": 0}, "Config": {"Image": kwargs["image"]},
                      "NetworkSettings": {"Ports": {}}}
        self.archives = []
        self.removed = False

    def put_archive(self, path, data):
        self.archives.append((path, data))
        return True

    def start(self):
        self.status = "running"
        port = next(iter(self.kwargs.get("ports") or {}), None)
        if port:
            self.attrs["NetworkSettings"]["Ports"] = {
                port: [{"HostIp": "127.0.0.1", "HostPort": "49999"}]}

    def wait(self, timeout=None):
        failure = self.engine.wait_errors.get(self.labels[handles_mod.LABEL_PHASE])
        if failure is not None:
            raise failure
        self.status = "exited"
        return {"StatusCode": self.engine.exit_codes.get(self.labels[handles_mod.LABEL_PHASE], 0)}

    def logs(self, **kwargs):
        return b"line 1\nline 2\n"

    def get_archive(self, path):
        raise RuntimeError("no archive in the fake")

    def reload(self):
        pass

    def update(self, **kwargs):
        self.kwargs["update"] = kwargs

    def kill(self):
        self.status = "exited"

    def remove(self, **kwargs):
        self.removed = True
        self.engine.containers_alive.discard(self)


class FakeEngine:
    """Just enough of docker.DockerClient for deploy(); records every create call."""

    def __init__(self):
        self.created = []
        self.containers_alive = set()
        self.volumes_created = []
        self.exit_codes = {}
        self.wait_errors = {}
        self.api = type("Api", (), {"base_url": "http+docker://localhost"})()
        engine = self

        class Containers:
            def create(self, **kwargs):
                container = FakeContainer(engine, kwargs)
                engine.created.append(container)
                engine.containers_alive.add(container)
                return container

            def list(self, all=False, filters=None):
                labels = (filters or {}).get("label", [])
                labels = [labels] if isinstance(labels, str) else labels
                return [c for c in engine.containers_alive
                        if all_labels_match(c.labels, labels)]

            def get(self, name):
                import docker

                raise docker.errors.NotFound(name)

        class Volumes:
            def create(self, **kwargs):
                engine.volumes_created.append(kwargs)

            def list(self, filters=None):
                return []

        class Images:
            def get(self, name):
                return object()

        self.containers = Containers()
        self.volumes = Volumes()
        self.images = Images()


def all_labels_match(labels, wanted):
    for item in wanted:
        key, _, value = item.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True


@pytest.fixture
def engine(monkeypatch, tmp_path):
    pytest.importorskip("docker")
    monkeypatch.setattr(deploy_mod, "probe", lambda url, timeout: (200, "HTTP 200"))
    monkeypatch.setattr(deploy_mod, "state_root", lambda: tmp_path / "state")
    monkeypatch.setattr(handles_mod, "state_root", lambda: tmp_path / "state")
    return FakeEngine()


def test_deploy_creates_containers_as_kubeless_does(engine, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("CA")
    deployment = deploy_(
        "deps", "python3.11", from_file=str(EXAMPLES / "hellowithdeps.py"),
        handler="hellowithdeps.handler", dependencies=str(EXAMPLES / "requirements.txt"),
        env={"INJECT": INJECTION}, ca_bundle=str(ca), client=engine)
    install, runtime = engine.created
    # preparation: the source went into the first container, at "/", as kubeless/...
    assert [path for path, _ in install.archives] == ["/"]
    assert "kubeless/hellowithdeps.py" in archive_members(install.archives[0][1])
    assert runtime.archives == []
    # installation: sh -c with the catalog's text; values as env only; CA mounted read-only
    command = load_catalog().runtime("python3.11").image("installation").command
    assert install.kwargs["entrypoint"] == ["/bin/sh", "-c"]
    assert install.kwargs["command"] == [command]
    assert install.kwargs["environment"]["INJECT"] == INJECTION
    assert install.kwargs["environment"]["PIP_CERT"] == deploy_mod.CA_MOUNT
    mounts = {m["Target"]: m for m in install.kwargs["mounts"]}
    assert mounts["/kubeless"]["Type"] == "volume"
    assert mounts[deploy_mod.CA_MOUNT]["ReadOnly"] is True
    assert mounts[deploy_mod.CA_MOUNT]["Source"] == str(ca.resolve())
    assert mounts["/dev/termination-log"]["Type"] == "bind"
    assert install.removed
    # runtime: loopback-only port, memory limit, no CA, labels
    assert runtime.kwargs["ports"] == {"8080/tcp": ("127.0.0.1", None)}
    assert runtime.kwargs["mem_limit"] == 128 * 2**20
    assert "PIP_CERT" not in runtime.kwargs["environment"]
    assert deploy_mod.CA_MOUNT not in {m["Target"] for m in runtime.kwargs["mounts"]}
    assert runtime.labels[handles_mod.LABEL_FUNCTION] == "deps"
    assert runtime.labels[handles_mod.LABEL_PHASE] == "runtime"
    assert runtime.kwargs["update"] == {"restart_policy": {"Name": "unless-stopped"}}
    assert deployment.url == "http://127.0.0.1:49999" and deployment.host_port == 49999
    assert engine.volumes_created[0]["labels"][handles_mod.LABEL_FUNCTION] == "deps"


def test_failing_phase_raises_with_log_tail_and_cleans_up(engine):
    engine.exit_codes["installation"] = 3
    with pytest.raises(DeployError) as info:
        deploy_("deps", "python3.11", from_file=str(EXAMPLES / "hellowithdeps.py"),
                          handler="hellowithdeps.handler",
                          dependencies=str(EXAMPLES / "requirements.txt"), client=engine)
    error = info.value
    assert error.phase == "installation"
    assert "exit code 3" in error.termination_message
    assert "line 2" in error.log_tail and "installation phase failed" in str(error)
    assert not engine.containers_alive  # removed on failure


def test_failed_deploy_removes_only_its_own_objects(engine):
    """Two deploys of one name race: the loser's clean-up must spare the winner's function."""
    winner = FakeContainer(engine, {"name": "kubeless-deps", "image": "x", "labels": {
        handles_mod.LABEL_FUNCTION: "deps", handles_mod.LABEL_PHASE: "runtime",
        handles_mod.LABEL_DEPLOY_ID: "winner"}})
    engine.exit_codes["installation"] = 3
    real_list = engine.containers.list
    calls = []

    def list_after_check(all=False, filters=None):
        calls.append(filters)
        if len(calls) == 1:
            return []  # the existence check ran before the winner's container appeared
        return real_list(all=all, filters=filters)

    engine.containers.list = list_after_check
    with pytest.raises(DeployError):
        deploy_("deps", "python3.11", from_file=str(EXAMPLES / "hellowithdeps.py"),
                handler="hellowithdeps.handler",
                dependencies=str(EXAMPLES / "requirements.txt"), client=engine)
    engine.containers_alive.add(winner) if not winner.removed else None
    assert not winner.removed
    assert all(c is winner for c in engine.containers_alive)


def test_engine_error_in_a_phase_is_not_a_timeout(engine):
    import docker

    engine.wait_errors["installation"] = docker.errors.APIError("500 Server Error: boom")
    with pytest.raises(EngineRefusedError, match="engine refused") as info:
        deploy_("deps", "python3.11", from_file=str(EXAMPLES / "hellowithdeps.py"),
                handler="hellowithdeps.handler",
                dependencies=str(EXAMPLES / "requirements.txt"), client=engine)
    assert "did not finish" not in str(info.value)
    assert info.value.phase == "installation" and info.value.code == "engine-refused"


def test_read_timeout_in_a_phase_is_a_phase_timeout(engine):
    import requests

    from kubeless_runtime.tooling.deploy import PhaseTimeoutError

    engine.wait_errors["installation"] = requests.exceptions.ConnectionError(
        requests.packages.urllib3.exceptions.ReadTimeoutError(None, None, "Read timed out."))
    with pytest.raises(PhaseTimeoutError, match="did not finish"):
        deploy_("deps", "python3.11", from_file=str(EXAMPLES / "hellowithdeps.py"),
                handler="hellowithdeps.handler",
                dependencies=str(EXAMPLES / "requirements.txt"), client=engine)


def test_unsafe_zip_is_refused_before_touching_the_engine(tmp_path):
    bundle = tmp_path / "evil.zip"
    bundle.write_bytes(make_zip([("../evil.py", "x", None)]))

    class NoEngine:
        def __getattr__(self, name):
            raise AssertionError("the engine must not be used")

    with pytest.raises(UnsafeArchiveError, match="escapes"):
        deploy_("evil", "python3.11", from_file=str(bundle), handler="evil.f",
                          client=NoEngine())


# --- the optional docker SDK --------------------------------------------------------------

def test_importing_the_modules_does_not_import_docker():
    code = ("import sys, kubeless_runtime.tooling.deploy, kubeless_runtime.tooling.images, "
            "kubeless_runtime.tooling.cli, kubeless_runtime.tooling.catalog; "
            "sys.exit(1 if 'docker' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_missing_sdk_is_a_typed_error(monkeypatch):
    from kubeless_runtime.tooling.engine import DockerSDKMissingError, get_client

    monkeypatch.setitem(sys.modules, "docker", None)
    with pytest.raises(DockerSDKMissingError, match=r"kubeless-runtime\[docker\]"):
        get_client()


def test_no_engine_is_a_typed_error(monkeypatch, tmp_path):
    pytest.importorskip("docker")
    from kubeless_runtime.tooling.engine import DockerUnavailableError, get_client

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(DockerUnavailableError, match="setup-docker.sh"):
        get_client(timeout=5)
