"""The runtime catalog, the shipped Dockerfiles and the build context (no Docker needed)."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from pathlib import Path

import pytest

import kubeless_runtime
from kubeless_runtime.cli import main
from kubeless_runtime.conformance.runner import catalog_hard_timeouts
from kubeless_runtime.tooling.catalog import (
    Catalog,
    CatalogError,
    UnknownPhaseError,
    UnknownRuntimeError,
    images_dir,
    load_catalog,
)
from kubeless_runtime.tooling.deploy import DeploySpec, plan_deployment
from kubeless_runtime.tooling.images import (
    NoBuildRecipeError,
    build_context,
    buildable_images,
    dockerfile_text,
    runtime_requirements,
)

REPO = Path(__file__).resolve().parents[3]
FIRST_RUNTIMES = ["python3.11", "python3.13", "nodejs18", "nodejs20", "nodejs_distroless20"]
ALL_RUNTIMES = FIRST_RUNTIMES + ["go1.23", "go1.24", "java17", "java21"]
NODE_RUNTIMES = ["nodejs18", "nodejs20", "nodejs_distroless20"]


def minimal(runtime_id="python", version="3.11", **extra):
    entry = {
        "ID": runtime_id, "depName": "requirements.txt", "fileNameSuffix": ".py",
        "versions": [{"name": f"{runtime_id}{version}".replace(".", ""), "version": version,
                      "images": [{"phase": "runtime", "image": f"x/{runtime_id}:{version}"}]}],
    }
    entry.update(extra)
    return entry


def test_shipped_catalog_lists_the_python_runtimes_in_order():
    catalog = load_catalog()
    assert catalog.names[:2] == ["python3.11", "python3.13"]
    python311 = catalog.runtime("python3.11")
    assert python311.id == "python" and python311.version == "3.11"
    assert python311.dep_name == "requirements.txt" and python311.file_name_suffix == ".py"
    assert python311.phases == ["installation", "runtime"]


@pytest.mark.parametrize("name, base", [("python3.11", "debian:bookworm-slim"),
                                        ("python3.13", "debian:trixie-slim")])
def test_python_images_build_from_the_right_debian(name, base):
    runtime = load_catalog().runtime(name)
    for image in runtime.images:
        assert image.build is not None, image
        assert image.build.args["BASE_IMAGE"] == base
        assert image.build.args["PYTHON_VERSION"] == runtime.version
        assert (images_dir() / image.build.directory / image.build.dockerfile).is_file()
    assert runtime.image("runtime").image == f"kubeless-runtime/python:{runtime.version}"
    assert runtime.image("installation").image == f"kubeless-runtime/python-init:{runtime.version}"


def test_installation_command_reads_values_only_from_env():
    command = load_catalog().runtime("python3.11").image("installation").command
    assert '--prefix="$KUBELESS_INSTALL_VOLUME"' in command
    assert '-r "$KUBELESS_DEPS_FILE"' in command
    assert "/dev/termination-log" in command


def test_unknown_runtime_lists_the_known_ones():
    with pytest.raises(UnknownRuntimeError) as info:
        load_catalog().runtime("python2.7")
    assert "python3.11" in str(info.value) and "python3.13" in str(info.value)
    assert isinstance(info.value, LookupError)


def test_unknown_phase_is_typed():
    with pytest.raises(UnknownPhaseError, match="compilation"):
        load_catalog().runtime("python3.11").image("compilation")


def test_runtime_names_are_id_plus_version_as_kubeless_spells_them():
    catalog = Catalog([minimal("nodejs", "20"), minimal("nodejs_distroless", "20"),
                       minimal("python", "3.13")])
    assert catalog.names == ["nodejs20", "nodejs_distroless20", "python3.13"]


KUBELESS_KEYS = {"entry": {"ID", "depName", "fileNameSuffix", "versions", "livenessProbeInfo"},
                 "version": {"name", "version", "images"},
                 "image": {"phase", "image", "command", "env"}}


def test_kubeless_config_has_only_kubeless_keys():
    config = load_catalog().kubeless_config()
    for entry in config:
        assert set(entry) <= KUBELESS_KEYS["entry"], set(entry) - KUBELESS_KEYS["entry"]
        for version in entry["versions"]:
            assert set(version) <= KUBELESS_KEYS["version"], version.keys()
            for image in version["images"]:
                assert set(image) <= KUBELESS_KEYS["image"], image.keys()
    text = json.dumps(config)
    assert '"build"' not in text and "hardTimeouts" not in text and "language" not in text
    assert config[0]["livenessProbeInfo"]["httpGet"]["path"] == "/healthz"
    # the catalog itself still has them
    assert load_catalog().runtime("python3.11").image("runtime").build is not None


def test_retagged_renames_every_image():
    catalog = load_catalog().retagged(lambda ref: "test/" + ref.replace("/", "-"))
    runtime = catalog.runtime("python3.13")
    assert runtime.image("runtime").image == "test/kubeless-runtime-python:3.13"
    assert runtime.image("runtime").build is not None


@pytest.mark.parametrize("document, message", [
    ({"ID": "python"}, "must be a JSON list"),
    ([{"ID": "python", "versions": []}], "depName"),
    ([minimal(), minimal()], "listed twice"),
    ([minimal(versions=[{"name": "p", "version": "1", "images": [
        {"phase": "deploy", "image": "x"}]}])], "unknown phase"),
    ([minimal(versions=[{"name": "p", "version": "1", "images": [
        {"phase": "installation", "image": "x", "command": "true"}]}])], "no 'runtime' phase"),
    ([minimal(versions=[{"name": "p", "version": "1", "images": [
        {"phase": "runtime", "image": "x"}, {"phase": "installation", "image": "y"}]}])],
     "needs a 'command'"),
    ([minimal(versions=[{"name": "p", "version": "1", "images": [
        {"phase": "runtime", "image": "x", "build": {"directory": "../etc"}}]}])],
     "folder under images"),
    ([minimal(depName="../requirements.txt")], "plain file name"),
    ([minimal(versions=[{"name": "p", "version": "1", "images": [
        {"phase": "runtime", "image": "x", "env": {"A": 1}}]}])], "object of strings"),
])
def test_malformed_catalogs_are_refused_with_a_clear_message(document, message):
    with pytest.raises(CatalogError, match=message):
        Catalog(document)


def language_file(**extra):
    data = {
        "language": "python", "hardTimeouts": True,
        "livenessProbeInfo": {"httpGet": {"path": "/healthz", "port": 8080}},
        "phases": {"installation": {"command": "install", "dockerfile": "Dockerfile.init"},
                   "runtime": {"env": {"A": "1"}}},
        "runtimes": [{"ID": "python", "depName": "requirements.txt", "fileNameSuffix": ".py",
                      "versions": [{"name": "python311", "version": "3.11",
                                    "buildArgs": {"BASE_IMAGE": "debian:bookworm-slim"},
                                    "images": {"installation": "x/init:3.11",
                                               "runtime": {"image": "x/py:3.11",
                                                           "sizeBudgetMB": 150}}}]}],
    }
    data.update(extra)
    return data


def test_language_file_writes_shared_blocks_once(tmp_path):
    folder = tmp_path / "images" / "python"
    folder.mkdir(parents=True)
    (folder / "runtime.json").write_text(json.dumps(language_file()))
    catalog = load_catalog(tmp_path / "images")
    runtime = catalog.runtime("python3.11")
    assert runtime.language == "python" and runtime.hard_timeouts is True
    install, run = runtime.images
    assert install.command == "install" and install.build.dockerfile == "Dockerfile.init"
    assert install.build.directory == "python"
    assert install.build.args == {"BASE_IMAGE": "debian:bookworm-slim"}
    assert run.env == {"A": "1"} and run.build.dockerfile == "Dockerfile"
    assert run.size_budget_mb == 150
    assert runtime.liveness_probe["httpGet"]["path"] == "/healthz"
    assert catalog.kubeless_config()[0]["versions"][0] == {
        "name": "python311", "version": "3.11", "images": [
            {"phase": "installation", "image": "x/init:3.11", "command": "install"},
            {"phase": "runtime", "image": "x/py:3.11", "env": {"A": "1"}}]}


@pytest.mark.parametrize("change, message", [
    ({"language": None}, "'language'"),
    ({"phases": {"deploy": {}}}, "'phases'"),
    ({"runtimes": [{"ID": "python", "depName": "r.txt",
                    "versions": [{"name": "p", "version": "1", "images": ["x"]}]}]}, "'images'"),
    ({"runtimes": [{"ID": "python", "depName": "r.txt", "versions": [
        {"name": "p", "version": "1", "images": {"runtime": "x", "deploy": "y"}}]}]},
     "unknown phase"),
    ({"hardTimeouts": "yes"}, "hardTimeouts"),
])
def test_malformed_language_files_are_refused(tmp_path, change, message):
    folder = tmp_path / "python"
    folder.mkdir()
    (folder / "runtime.json").write_text(json.dumps(language_file(**change)))
    with pytest.raises(CatalogError, match=message):
        load_catalog(tmp_path)


def test_every_shipped_runtime_has_a_language_folder_and_examples():
    catalog = load_catalog()
    for runtime in catalog.runtimes:
        assert (images_dir() / runtime.language / "runtime.json").is_file()
        assert (REPO / "examples" / runtime.language / "examples.json").is_file(), runtime.name
    assert catalog.languages()[:2] == ["python", "nodejs"]


def test_load_catalog_reports_bad_json(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text("[{")
    with pytest.raises(CatalogError, match="not valid JSON"):
        load_catalog(path)
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.json")


def test_images_dir_in_a_source_checkout_is_the_repository_folder():
    assert images_dir() == (REPO / "images").resolve()


def test_images_dir_prefers_the_installed_package_data(tmp_path, monkeypatch):
    package = tmp_path / "site" / "kubeless_runtime"
    (package / "_images").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "_images" / "python").mkdir()
    (package / "_images" / "python" / "runtime.json").write_text(json.dumps(language_file()))
    monkeypatch.setattr(kubeless_runtime, "__file__", str(package / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert images_dir() == (package / "_images").resolve()
    assert load_catalog().names == ["python3.11"]


def test_images_dir_missing_everywhere_is_a_catalog_error(tmp_path, monkeypatch):
    package = tmp_path / "kubeless_runtime"
    package.mkdir()
    monkeypatch.setattr(kubeless_runtime, "__file__", str(package / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CatalogError, match="cannot find the runtime catalog"):
        images_dir()


def test_dockerfiles_build_against_a_real_registry_too():
    for phase in ("runtime", "installation"):
        text = dockerfile_text("python3.11", phase)
        assert "ARG BASE_IMAGE=debian:bookworm-slim" in text
        assert "FROM ${BASE_IMAGE}" in text
    runtime = dockerfile_text("python3.11")
    assert "USER 1000:1000" in runtime
    assert "EXPOSE 8080" in runtime
    assert 'CMD ["python3", "-m", "kubeless_runtime"]' in runtime
    assert "PYTHONUNBUFFERED=1" in runtime
    # the CA bundle is used in the build stage only; the final stage copies the venv alone
    final_stage = runtime.split("\nFROM ${BASE_IMAGE}\n", 1)[1]
    assert "ca-bundle" not in final_stage


def test_image_without_build_recipe_is_reported():
    catalog = Catalog([minimal()])
    assert buildable_images(None, catalog) == []
    with pytest.raises(NoBuildRecipeError, match="no build section"):
        dockerfile_text("python3.11", "runtime", catalog)


def _context_members(data: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else None)
                for m in tar.getmembers()}


def test_build_context_holds_the_package_requirements_and_recipe(tmp_path):
    runtime = load_catalog().runtime("python3.11")
    members = _context_members(build_context(runtime, "runtime"))
    assert "Dockerfile" in members and "Dockerfile.init" in members
    assert "kubeless_runtime/__init__.py" in members
    assert "kubeless_runtime/runtime/server.py" in members
    assert not [n for n in members
                if "/_images/" in n or "__pycache__" in n or n.endswith(".pyc")]
    requirements = members["requirements.txt"].decode()
    assert "bottle" in requirements and "uvicorn" in requirements
    assert "docker" not in requirements and "pytest" not in requirements
    assert members["ca-bundle.crt"] == b""

    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(b"-----BEGIN CERTIFICATE-----\nxyz\n")
    members = _context_members(build_context(runtime, "runtime", ca_bundle=str(bundle)))
    assert members["ca-bundle.crt"] == bundle.read_bytes()


def test_build_context_from_an_installed_copy_of_the_package(tmp_path):
    """No dependence on the checkout: a copied package (as in site-packages) is enough."""
    package = tmp_path / "site-packages" / "kubeless_runtime"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""copy"""\n')
    (package / "_images").mkdir()
    (package / "_images" / "junk").write_text("x")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.pyc").write_bytes(b"\0")
    members = _context_members(build_context(load_catalog().runtime("python3.13"),
                                              "installation", package=package))
    assert set(n for n in members if n.startswith("kubeless_runtime/")) == {
        "kubeless_runtime/__init__.py"}
    assert members["requirements.txt"]  # from the installed metadata


def test_runtime_requirements_match_pyproject():
    requirements = runtime_requirements()
    assert any(r.startswith("bottle") for r in requirements)
    assert any(r.startswith("prometheus-client") or r.startswith("prometheus_client")
               for r in requirements)


def test_cli_get_server_config(capsys):
    assert main(["get-server-config"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Current Server Config:",
        # Python and Node.js first, in Kubeless's order; every other language after them.
        "Supported Runtimes are: python3.11, python3.13, nodejs18, nodejs20, nodejs_distroless20"
        + "".join(f", {name}" for name in load_catalog().names[5:]),
    ]


def test_shipped_catalog_lists_python_and_nodejs_first_then_every_language():
    names = load_catalog().names
    assert names[:5] == FIRST_RUNTIMES
    assert set(ALL_RUNTIMES) <= set(names)


@pytest.mark.parametrize("name, runtime_id, version", [
    ("nodejs18", "nodejs", "18"), ("nodejs20", "nodejs", "20"),
    ("nodejs_distroless20", "nodejs_distroless", "20")])
def test_node_runtimes_are_spelt_and_shaped_as_kubeless_expects(name, runtime_id, version):
    catalog = load_catalog()
    runtime = catalog.runtime(name)
    assert (runtime.id, runtime.version) == (runtime_id, version)
    assert runtime.dep_name == "package.json"
    assert runtime.file_name_suffix == ".js"
    assert runtime.phases == ["installation", "runtime"]
    assert runtime.probe_path == "/healthz"
    assert catalog_hard_timeouts(catalog, name) is True
    for image in runtime.images:
        assert image.build is not None and image.build.directory == "nodejs", image
        assert (images_dir() / "nodejs" / image.build.dockerfile).is_file()


@pytest.mark.parametrize("name", NODE_RUNTIMES)
def test_node_installation_command_interpolates_no_value(name):
    """Registry, scope and file names reach install-deps.js as env vars; the shell sees
    fixed text only (no $VAR, $(...) or backquote a value could be spliced into)."""
    install = load_catalog().runtime(name).image("installation")
    assert install.command == "exec node /opt/kubeless/install-deps.js"
    assert not set("$`\"';|&<>\\") & set(install.command), install.command
    assert install.env == {}


@pytest.mark.parametrize("name", NODE_RUNTIMES)
def test_node_path_is_under_the_install_volume(name, tmp_path):
    runtime = load_catalog().runtime(name)
    assert runtime.image("runtime").env == {
        "NODE_PATH": "$(KUBELESS_INSTALL_VOLUME)/node_modules"}
    source = tmp_path / "hello.js"
    source.write_text("module.exports.foo = () => 'hi';\n")
    plan = plan_deployment(DeploySpec("hello", name, from_file=str(source), handler="hello.foo"))
    assert plan.runtime_env["NODE_PATH"] == "/kubeless/node_modules"
    assert plan.runtime_env["KUBELESS_INSTALL_VOLUME"] == "/kubeless"


def test_cli_config_prints_runtime_images(capsys):
    assert main(["config"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document[0]["ID"] == "python"
    assert '"build"' not in json.dumps(document)  # our key; a command may say "build"
    assert main(["config", "--configmap"]) == 0
    configmap = json.loads(capsys.readouterr().out)
    assert configmap["metadata"]["name"] == "kubeless-config"
    assert json.loads(configmap["data"]["runtime-images"]) == document


def test_cli_dockerfile_and_unknown_runtime(capsys):
    assert main(["dockerfile", "python3.13", "--phase", "installation"]) == 0
    assert "FROM ${BASE_IMAGE}" in capsys.readouterr().out
    assert main(["dockerfile", "cobol1"]) == 1
    assert "supported runtimes are: python3.11" in capsys.readouterr().err


def test_build_context_skips_node_modules_and_dockerignored_files(tmp_path):
    recipe = tmp_path / "images" / "lang"
    (recipe / "node_modules" / "x").mkdir(parents=True)
    (recipe / "node_modules" / "x" / "index.js").write_text("x")
    (recipe / "Dockerfile").write_text("FROM scratch\n")
    (recipe / "notes.md").write_text("n")
    (recipe / "keep.js").write_text("k")
    (recipe / ".dockerignore").write_text("# comment\n*.md\n")
    document = [minimal(versions=[{"name": "lang1", "version": "1", "images": [
        {"phase": "runtime", "image": "x/lang:1", "build": {"directory": "lang"}}]}],
        buildContext={"package": False, "exclude": ["node_modules"]})]
    runtime = Catalog(document, base_dir=tmp_path / "images").runtime("python1")
    members = _context_members(build_context(runtime, base_dir=tmp_path / "images"))
    assert "keep.js" in members and "Dockerfile" in members
    assert "notes.md" not in members
    assert not [name for name in members if name.startswith("kubeless_runtime/")]
    assert not [name for name in members if "node_modules" in name]
