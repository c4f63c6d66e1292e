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


def lying_zip(path, real_size=4 * 1024 * 1024, claimed=16):
    """A deflated entry whose local and central headers claim ``claimed`` bytes."""
    import struct

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fn.py", b"x" * real_size)
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, claimed)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, claimed)
    path.write_bytes(bytes(data))
    return path


def test_a_zip_bomb_whose_header_lies_gets_the_same_one_paragraph_error(tmp_path):
    from kubeless_runtime.bundle import UnsafeBundleError, zip_entries

    bundle = lying_zip(tmp_path / "bomb.zip")
    with pytest.raises(UnsafeBundleError) as caught:
        zip_entries(bundle.read_bytes(), "bomb.zip")
    message = str(caught.value)
    assert "fn.py" in message and "header" in message and "\n" not in message
    assert caught.value.code == "unsafe-bundle"
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UnsafeBundleError):
        extract_zip(bundle, out)
    assert list(out.iterdir()) == []
