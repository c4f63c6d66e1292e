import sys

import pytest

from kubeless_runtime.runtime.loader import FunctionLoadError, load_function, write_termination_log


@pytest.fixture(autouse=True)
def clean_modules():
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        sys.modules.pop(name, None)


def write(folder, name, text):
    (folder / name).write_text(text)


def test_loads_a_handler(tmp_path):
    write(tmp_path, "fn_ok.py", "def handler(event, context):\n    return event\n")
    assert load_function(tmp_path, "fn_ok", "handler")(1, 2) == 1


def test_loads_a_package(tmp_path):
    (tmp_path / "fn_pkg").mkdir()
    write(tmp_path / "fn_pkg", "__init__.py", "from .impl import handler\n")
    write(tmp_path / "fn_pkg", "impl.py", "def handler(e, c):\n    return 'pkg'\n")
    assert load_function(tmp_path, "fn_pkg", "handler")(1, 2) == "pkg"


def test_sibling_modules_and_extra_paths_import(tmp_path):
    write(tmp_path, "helper_mod.py", "VALUE = 7\n")
    write(tmp_path, "fn_sib.py", "import helper_mod, extra_mod\n"
                                 "def handler(e, c):\n    return helper_mod.VALUE + extra_mod.V\n")
    extra = tmp_path / "site"
    extra.mkdir()
    write(extra, "extra_mod.py", "V = 1\n")
    assert load_function(tmp_path, "fn_sib", "handler", [extra])(0, 0) == 8


@pytest.mark.parametrize("source, handler, words", [
    ("def handler(event, context)\n    pass\n", "handler", ["Syntax error", "fn_bad.py, line 1"]),
    ("import no_such_dependency_q\n", "handler",
     ["line 1", "no_such_dependency_q", "requirements.txt"]),
    ("x = 1\nraise RuntimeError('at import')\n", "handler",
     ["module-level code", "RuntimeError at line 2", "at import"]),
    ("def other(event, context):\n    pass\n", "handler", ["no function 'handler'", "other"]),
    ("handler = 'text'\n", "handler", ["'handler' is a str, not a function"]),
    ("def handler():\n    pass\n", "handler", ["line 1", "cannot be called with (event, context)"]),
    ("def handler(e, c):\n    pass\n", "", ["FUNC_HANDLER is not set"]),
])
def test_errors_name_file_line_and_fix(tmp_path, source, handler, words):
    write(tmp_path, "fn_bad.py", source)
    with pytest.raises(FunctionLoadError) as caught:
        load_function(tmp_path, "fn_bad", handler)
    for word in words:
        assert word in str(caught.value)


def test_missing_module_lists_the_folder(tmp_path):
    write(tmp_path, "present.py", "")
    with pytest.raises(FunctionLoadError, match="absent.py does not exist.*present.py"):
        load_function(tmp_path, "absent", "handler")


def test_missing_folder_and_module_name(tmp_path):
    with pytest.raises(FunctionLoadError, match="KUBELESS_INSTALL_VOLUME"):
        load_function(tmp_path / "nope", "m", "h")
    with pytest.raises(FunctionLoadError, match="MOD_NAME is not set"):
        load_function(tmp_path, "", "h")


def test_termination_log(tmp_path):
    target = tmp_path / "termination-log"
    assert write_termination_log("why it failed", str(target))
    assert target.read_text() == "why it failed"
    assert not write_termination_log("x", str(tmp_path / "missing-dir" / "log"))


@pytest.mark.parametrize("name", ["json", "os", "string"])
def test_a_file_named_like_a_stdlib_module_does_not_replace_it(tmp_path, name):
    import importlib

    real = importlib.import_module(name)
    write(tmp_path, f"{name}.py", f"import {name} as same\n"
                                  "def handler(event, context):\n"
                                  "    return (__name__, same.__file__)\n")
    func = load_function(tmp_path, name, "handler")
    assert sys.modules[name] is real, "the worker keeps the standard library's module"
    module_name, imported = func(None, None)
    assert module_name == f"_kubeless_function_{name}"
    assert imported == real.__file__, "import inside the function gives the stdlib module"
    import json as json_again
    assert json_again.dumps([1]) == "[1]"


def test_a_file_named_like_an_unloaded_stdlib_module_cannot_shadow_it(tmp_path):
    sys.modules.pop("colorsys", None)
    write(tmp_path, "colorsys.py", "def handler(event, context):\n    return 'mine'\n")
    assert load_function(tmp_path, "colorsys", "handler")(0, 0) == "mine"
    import colorsys
    assert hasattr(colorsys, "rgb_to_hsv"), "a later import still finds the standard library"
