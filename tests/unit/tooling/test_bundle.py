import stat
import zipfile

import pytest

from kubeless_runtime.bundle import BundleError, extract_zip


def make_zip(path, entries):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_extracts_a_bundle(tmp_path):
    bundle = make_zip(tmp_path / "f.zip", {"fn.py": "x", "lib/util.py": "y"})
    out = tmp_path / "out"
    out.mkdir()
    extract_zip(bundle, out)
    assert (out / "fn.py").read_text() == "x"
    assert (out / "lib" / "util.py").read_text() == "y"


@pytest.mark.parametrize("name, words", [
    ("../evil.py", "escapes the function folder"),
    ("a/../../evil.py", "escapes the function folder"),
    ("/etc/evil", "absolute path"),
])
def test_refuses_entries_that_escape(tmp_path, name, words):
    bundle = make_zip(tmp_path / "f.zip", {"ok.py": "", name: "x"})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BundleError, match=words):
        extract_zip(bundle, out)
    assert not (tmp_path / "evil.py").exists()
    assert list(out.iterdir()) == []


def test_refuses_symlinks(tmp_path):
    bundle = tmp_path / "f.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(BundleError, match="symbolic link"):
        extract_zip(bundle, tmp_path)


def test_not_a_zip(tmp_path):
    bad = tmp_path / "f.zip"
    bad.write_text("plain text")
    with pytest.raises(BundleError, match="not a readable zip"):
        extract_zip(bad, tmp_path)
