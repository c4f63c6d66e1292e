"""Kubeless compatibility, deployed as Kubeless would: a function shipped as a compressed tar
with its dependency file inside (installed without --dependencies), in Python and Node.js."""

from __future__ import annotations

import json
import tarfile

import pytest

from .helpers import REPO, http

pytestmark = pytest.mark.container


def make_tar(path, mode, files):
    with tarfile.open(path, mode) as archive:
        for name, source in files.items():
            archive.add(str(source), arcname=name)
    return path


def test_python_tar_gz_bundle_installs_its_requirements(fn, tmp_path):
    examples = REPO / "examples" / "python"
    bundle = make_tar(tmp_path / "fn.tar.gz", "w:gz", {
        "hellowithdeps.py": examples / "hellowithdeps.py",
        "requirements.txt": examples / "requirements.txt"})
    deployment = fn("tgz-deps", "python3.11", from_file=str(bundle),
                    handler="hellowithdeps.handler")
    status, body = http(deployment.url, b"a: 1\nb: [x, y]\n", "POST",
                        {"Content-Type": "text/plain"})
    assert (status, json.loads(body)) == (200, {"a": 1, "b": ["x", "y"]})


def test_nodejs_tar_xz_bundle_installs_its_package_json_and_streams(fn, tmp_path):
    examples = REPO / "examples" / "nodejs"
    bundle = make_tar(tmp_path / "fn.tar.xz", "w:xz", {
        "hellowithdeps.js": examples / "hellowithdeps.js",
        "stream.js": examples / "stream.js",
        "package.json": examples / "package.json"})
    deployment = fn("txz-deps", "nodejs20", from_file=str(bundle),
                    handler="hellowithdeps.handler")
    status, body = http(deployment.url, b"hello big world", "POST",
                        {"Content-Type": "text/plain"})
    assert (status, json.loads(body)) == (200, {"words": ["hello", "big", "world"],
                                                "camel": "helloBigWorld"})
