import argparse
import zipfile

import pytest

from kubeless_runtime.cli import build_parser
from kubeless_runtime.errors import UsageError
from kubeless_runtime.runtime.cli import (
    prepare_source,
    serve_config,
)
from kubeless_runtime.runtime.config import ConfigError


def test_source_is_laid_out_as_kubeless_does(tmp_path):
    src = tmp_path / "test.py"
    src.write_text("def foobar(e, c): pass\n")
    work = tmp_path / "work"
    work.mkdir()
    assert prepare_source(src, "other", work) == work
    assert (work / "other.py").exists()
    assert prepare_source(src, "test", work) == tmp_path
    bundle = tmp_path / "b.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("fn.py", "x")
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    assert (prepare_source(bundle, "fn", unpacked) / "fn.py").exists()
    with pytest.raises(UsageError, match="does not exist"):
        prepare_source(tmp_path / "missing.py", "m", work)


def test_serve_flags_win_over_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNC_TIMEOUT", "99")
    monkeypatch.setenv("GREETING", "before")
    src = tmp_path / "helloget.py"
    src.write_text("def foo(e, c): return 'x'\n")
    args = build_parser().parse_args(["serve", "--from-file", str(src), "--handler",
                                      "helloget.foo", "--timeout", "3", "--port", "0",
                                      "--env", "GREETING=hi"])
    config = serve_config(args, tmp_path)
    assert (config.module_name, config.handler_name) == ("helloget", "foo")
    assert config.timeout == 3 and config.port == 0
    assert config.function_dir == tmp_path
    import os

    assert os.environ["GREETING"] == "hi"


def test_bad_timeout_is_refused(tmp_path):
    src = tmp_path / "f.py"
    src.write_text("")
    args = argparse.Namespace(env=[], handler="f.h", from_file=str(src), dependencies=None,
                              timeout=-1.0, port=None, host=None)
    with pytest.raises(ConfigError, match="--timeout"):
        serve_config(args, tmp_path)


def test_one_error_boundary_prints_the_code_and_exits_1(capsys, tmp_path):
    from kubeless_runtime.cli import main

    assert main(["deploy", "Bad_Name", "--runtime", "python3.11"]) == 1
    err = capsys.readouterr().err
    assert "kubeless-runtime deploy:" in err and "[invalid-spec]" in err
    assert main(["dockerfile", "cobol1"]) == 1
    assert "[unknown-runtime]" in capsys.readouterr().err


def test_serve_errors_are_usage_errors_not_deploy_errors(tmp_path):
    from kubeless_runtime.errors import UsageError as Base
    from kubeless_runtime.tooling.deploy import DeployError

    args = argparse.Namespace(env=["NOVALUE"], handler="f.h", from_file=None, dependencies=None,
                              timeout=None, port=None, host=None)
    with pytest.raises(Base) as info:
        serve_config(args, tmp_path)
    assert not isinstance(info.value, DeployError) and info.value.code == "invalid-env"


def test_a_load_error_reaches_the_termination_log_with_its_code(tmp_path, monkeypatch, capsys):
    from kubeless_runtime.cli import main

    (tmp_path / "broken.py").write_text("def handler(event, context)\n    return 1\n")
    log = tmp_path / "termination-log"
    log.write_text("")
    monkeypatch.setenv("KUBELESS_TERMINATION_LOG", str(log))
    assert main(["serve", "--from-file", str(tmp_path / "broken.py"), "--handler",
                 "broken.handler", "--port", "0"]) == 1
    text = log.read_text()
    assert "broken.py" in text and "[function-load]" in text
    assert "[function-load]" in capsys.readouterr().err
