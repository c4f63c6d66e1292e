"""Tar bundles (.tar.gz, .tar.bz2, .tar.xz) as Kubeless accepts them, and the dependency file a
bundle carries: unpacked with the zip's safety for ``serve`` and ``deploy``."""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import tarfile
import zipfile

import pytest

import kubeless_runtime.bundle as bundle_mod
import kubeless_runtime.runtime.cli as serve_cli
from kubeless_runtime.bundle import BundleError, UnsafeBundleError, bundle_format, extract_bundle
from kubeless_runtime.tooling.catalog import load_catalog
from kubeless_runtime.tooling.deploy import (
    DeploySpec,
    UnsafeArchiveError,
    plan_deployment,
    source_archive,
)

MODES = {".tar.gz": "w:gz", ".tar.bz2": "w:bz2", ".tar.xz": "w:xz", ".tgz": "w:gz"}


def member(name, data=b"", kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def make_tar(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def files(path, suffix=".tar.gz", **contents):
    return make_tar(path.with_name(f"fn{suffix}"),
                    [member(name, data.encode()) for name, data in contents.items()],
                    MODES[suffix])


def out_dir(tmp_path):
    out = tmp_path / "out"
    out.mkdir(parents=True)
    return out


@pytest.mark.parametrize("suffix", list(MODES))
def test_extracts_every_compression_kubeless_accepts(tmp_path, suffix):
    bundle = files(tmp_path / "x", suffix, **{"fn.py": "x", "lib/util.py": "y"})
    assert bundle_format(bundle.name) == "tar"
    out = out_dir(tmp_path)
    extract_bundle(bundle, out)
    assert (out / "fn.py").read_text() == "x" and (out / "lib" / "util.py").read_text() == "y"


def test_formats_by_name():
    assert bundle_format("f.ZIP") == "zip" and bundle_format("f.tar.xz") == "tar"
    assert bundle_format("index.js") is None and bundle_format("gz.py") is None


@pytest.mark.parametrize("members, words", [
    ([member("../evil.py", b"x")], "escapes the function folder"),
    ([member("a/../../evil.py", b"x")], "escapes the function folder"),
    ([member("/etc/evil", b"x")], "absolute path"),
    ([member("link", kind=tarfile.SYMTYPE, link="/etc/passwd")], "is a link"),
    ([member("hard", kind=tarfile.LNKTYPE, link="/etc/passwd")], "is a link"),
    ([member("dev", kind=tarfile.CHRTYPE)], "not a regular file"),
    ([member("fifo", kind=tarfile.FIFOTYPE)], "not a regular file"),
])
def test_refuses_unsafe_members_and_writes_nothing(tmp_path, members, words):
    bundle = make_tar(tmp_path / "f.tar.gz", [member("ok.py", b"ok"), *members])
    out = out_dir(tmp_path)
    with pytest.raises(UnsafeBundleError, match=words) as info:
        extract_bundle(bundle, out)
    assert info.value.code == "unsafe-bundle"
    assert list(out.iterdir()) == [] and not (tmp_path / "evil.py").exists()


def test_size_bomb(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_mod, "MAX_BUNDLE_BYTES", 1000)
    bundle = make_tar(tmp_path / "f.tar.gz", [member("a", b"x" * 600), member("b", b"y" * 600)])
    with pytest.raises(UnsafeBundleError, match="unpacks to more than"):
        extract_bundle(bundle, out_dir(tmp_path))


def test_compression_bomb_stops_at_the_limit_without_inflating_it_all(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_mod, "MAX_BUNDLE_BYTES", 1000)
    monkeypatch.setattr(bundle_mod, "MAX_BUNDLE_ENTRIES", 2)
    bomb = tmp_path / "bomb.tar.bz2"
    bomb.write_bytes(bz2.compress(b"\0" * (64 * 2**20)))  # 64 MiB of zeros, a few bytes packed
    with pytest.raises(UnsafeBundleError, match="unpacks to more than"):
        extract_bundle(bomb, out_dir(tmp_path))


def test_entry_count_bomb(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_mod, "MAX_BUNDLE_ENTRIES", 3)
    bundle = make_tar(tmp_path / "f.tar.gz", [member(f"f{i}", b"") for i in range(5)])
    with pytest.raises(UnsafeBundleError, match="more than 3 entries"):
        extract_bundle(bundle, out_dir(tmp_path))


def _lying(tmp_path, claimed, data):
    """A tar whose first member's header says ``claimed`` bytes but holds ``data``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info, _ = member("liar.py", b"x" * claimed)
        tar.addfile(info, io.BytesIO(data.ljust(claimed, b"\0")[:claimed]))
    body = bytearray(raw.getvalue())
    # replace the stored content with ``data`` (longer or shorter than the header says)
    content = bytes(data) + b"\0" * (-len(data) % 512)
    body = body[:512] + content + b"\0" * 1024
    path = tmp_path / "liar.tar.gz"
    path.write_bytes(gzip.compress(bytes(body)))
    return path


@pytest.mark.parametrize("claimed, data", [
    (10, b"print('hidden')\n" * 100),  # more data than the header says: the rest is smuggled
    (4000, b"short"),                   # less data than the header says
])
def test_a_member_lying_about_its_size(tmp_path, claimed, data):
    out = out_dir(tmp_path)
    with pytest.raises(UnsafeBundleError, match="does not match its header|lies about its size"):
        extract_bundle(_lying(tmp_path, claimed, data), out)
    assert list(out.iterdir()) == []


def test_not_a_tar(tmp_path):
    bad = tmp_path / "f.tar.gz"
    bad.write_text("plain text")
    with pytest.raises(BundleError, match="not a readable tar archive") as info:
        extract_bundle(bad, tmp_path)
    assert info.value.code == "invalid-bundle"


def test_serve_unpacks_a_tar_instead_of_copying_it(tmp_path):
    bundle = files(tmp_path / "x", ".tar.xz", **{"fn.py": "def h(e, c): return 1\n"})
    work = out_dir(tmp_path)
    assert serve_cli.prepare_source(bundle, "fn", work) == work
    assert (work / "fn.py").read_text().startswith("def h")


def test_deploy_unpacks_a_tar_into_the_volume(tmp_path):
    bundle = files(tmp_path / "x", ".tar.bz2", **{"index.js": "x", "lib/a.js": "y"})
    data = source_archive(load_catalog().runtime("python3.11"), "index", str(bundle), None)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = {m.name for m in tar.getmembers()}
    assert names == {"kubeless", "kubeless/index.js", "kubeless/lib/a.js"}


def test_deploy_refuses_an_unsafe_tar_with_a_stable_code(tmp_path):
    bundle = make_tar(tmp_path / "evil.tar.gz", [member("../../etc/cron.d/evil", b"x")])
    with pytest.raises(UnsafeArchiveError) as info:
        source_archive(load_catalog().runtime("python3.11"), "main", str(bundle), None)
    assert info.value.code == "unsafe-archive"


def test_cli_reports_a_bad_archive_in_one_paragraph(tmp_path, capsys):
    from kubeless_runtime.cli import main

    bundle = make_tar(tmp_path / "evil.tar.gz", [member("/etc/evil", b"x")])
    assert main(["serve", "--from-file", str(bundle), "--handler", "x.y", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "[unsafe-bundle]" in err and "Traceback" not in err and err.count("\n") == 1


# --- the dependency file a bundle carries ----------------------------------------------------

def zip_with(path, **contents):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


def test_deploy_installs_the_bundles_dependency_file(tmp_path):
    bundle = zip_with(tmp_path / "fn.zip",
                      **{"fn.py": "import yaml\n", "requirements.txt": "PyYAML\n"})
    plan = plan_deployment(DeploySpec("fn", "python3.11", from_file=str(bundle),
                                      handler="fn.handler"), host_env={})
    assert "installation" in plan.images
    assert plan.phase_env["installation"]["KUBELESS_DEPS_FILE"] == "/kubeless/requirements.txt"
    assert any("requirements.txt" in note and "installs it" in note for note in plan.notes)


def test_deploy_dependencies_flag_wins_over_the_bundles_file(tmp_path):
    bundle = zip_with(tmp_path / "fn.zip", **{"fn.py": "", "requirements.txt": "PyYAML\n"})
    deps = tmp_path / "mine.txt"
    deps.write_text("requests\n")
    plan = plan_deployment(DeploySpec("fn", "python3.11", from_file=str(bundle),
                                      handler="fn.handler", dependencies=str(deps)), host_env={})
    assert plan.notes == ()
    with tarfile.open(fileobj=io.BytesIO(plan.archive)) as tar:
        last = [m for m in tar.getmembers() if m.name == "kubeless/requirements.txt"][-1]
        assert tar.extractfile(last).read() == b"requests\n"  # extracted last: it wins


def test_deploy_without_a_dependency_file_has_no_installation(tmp_path):
    bundle = zip_with(tmp_path / "fn.zip", **{"fn.py": "", "lib/requirements.txt": "x\n"})
    plan = plan_deployment(DeploySpec("fn", "python3.11", from_file=str(bundle),
                                      handler="fn.handler"), host_env={})
    assert "installation" not in plan.images and plan.notes == ()


def serve_args(bundle, dependencies=None):
    return argparse.Namespace(env=[], handler="fn.handler", from_file=str(bundle),
                              dependencies=dependencies, timeout=None, port=None, host=None)


def test_serve_installs_the_bundles_requirements_and_says_so(tmp_path, monkeypatch, capsys):
    installed = []
    monkeypatch.setattr(serve_cli, "install_dependencies",
                        lambda path: installed.append(path.read_text()) or tmp_path / "site")
    bundle = files(tmp_path / "x", ".tar.gz", **{"fn.py": "", "requirements.txt": "PyYAML\n"})
    work = out_dir(tmp_path)
    config = serve_cli.serve_config(serve_args(bundle), work)
    assert installed == ["PyYAML\n"] and config.site_dirs[0] == tmp_path / "site"
    assert "requirements.txt" in capsys.readouterr().err
    installed.clear()
    mine = tmp_path / "mine.txt"
    mine.write_text("requests\n")
    serve_cli.serve_config(serve_args(bundle, str(mine)), out_dir(tmp_path / "again"))
    assert installed == ["requests\n"]


def test_kubernetes_export_gets_the_installation_for_a_bundles_dependency_file(tmp_path):
    from kubeless_runtime.tooling.kubernetes import export_objects

    bundle = files(tmp_path / "x", ".tar.gz", **{"fn.py": "import yaml\n",
                                                 "requirements.txt": "PyYAML\n"})
    spec = DeploySpec("fn", "python3.11", from_file=str(bundle), handler="fn.handler")
    deployment = export_objects(spec, host_env={})[1]
    init = deployment["spec"]["template"]["spec"].get("initContainers") or []
    assert any("python-init" in container["image"] for container in init), init
