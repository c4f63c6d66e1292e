from pathlib import Path

import pytest

from kubeless_runtime.runtime.config import ConfigError, from_env


def test_defaults_follow_kubeless():
    config = from_env({"MOD_NAME": "m", "FUNC_HANDLER": "h"})
    assert (config.timeout, config.port, config.threads) == (180, 8080, 10)
    assert config.function_dir == Path("/kubeless")
    assert config.body_limit == 1024 * 1024
    assert config.workers_max == config.threads
    assert config.context == {"function-name": "h", "timeout": "180", "runtime": "",
                              "memory-limit": ""}


def test_values_from_env():
    config = from_env({"MOD_NAME": "m", "FUNC_HANDLER": "h", "FUNC_TIMEOUT": "2.5",
                       "FUNC_PORT": "9000", "FUNC_RUNTIME": "python3.11",
                       "FUNC_MEMORY_LIMIT": "128Mi", "CHERRYPY_NUMTHREADS": "16",
                       "REQ_MB_LIMIT": "3", "KUBELESS_INSTALL_VOLUME": "/fn"})
    assert config.timeout == 2.5 and config.port == 9000 and config.threads == 16
    assert config.workers_max == 16
    assert config.body_limit == 3 * 1024 * 1024
    assert config.function_dir == Path("/fn")
    assert config.context["timeout"] == "2.5"
    assert config.context["memory-limit"] == "128Mi"


def test_func_memfile_max_wins_over_req_mb_limit():
    config = from_env({"REQ_MB_LIMIT": "3", "FUNC_MEMFILE_MAX": "1000"})
    assert config.body_limit == 1000


def test_site_packages_of_an_installation_phase_are_on_the_path(tmp_path):
    import sys

    site = tmp_path / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    site.mkdir(parents=True)
    assert from_env({"KUBELESS_INSTALL_VOLUME": str(tmp_path)}).site_dirs == (site,)


@pytest.mark.parametrize("name, value, words", [
    ("FUNC_TIMEOUT", "soon", "FUNC_TIMEOUT='soon' is not a number"),
    ("FUNC_TIMEOUT", "0", "FUNC_TIMEOUT='0' is too small"),
    ("FUNC_PORT", "80.5", "FUNC_PORT='80.5' is not a whole number"),
    ("FUNC_PORT", "70000", "FUNC_PORT=70000 is not a TCP port"),
    ("CHERRYPY_NUMTHREADS", "0", "CHERRYPY_NUMTHREADS='0' is too small"),
    ("REQ_MB_LIMIT", "lots", "REQ_MB_LIMIT='lots' is not a number"),
])
def test_bad_values_name_the_variable(name, value, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        from_env({name: value})


def test_worker_bounds_must_be_ordered():
    with pytest.raises(ConfigError, match="KUBELESS_WORKERS_MIN=5 is above KUBELESS_WORKERS_MAX=2"):
        from_env({"KUBELESS_WORKERS_MIN": "5", "KUBELESS_WORKERS_MAX": "2"})


def test_workers_min_defaults_below_max_and_is_at_least_one():
    assert from_env({"KUBELESS_WORKERS_MAX": "1"}).workers_min == 1
    assert from_env({}).workers_min == 2
    with pytest.raises(ConfigError, match="KUBELESS_WORKERS_MIN"):
        from_env({"KUBELESS_WORKERS_MIN": "0"})


def test_request_head_limit():
    assert from_env({}).max_head_bytes == 65536
    assert from_env({"KUBELESS_MAX_HEAD_BYTES": "8192"}).max_head_bytes == 8192
    with pytest.raises(ConfigError, match="KUBELESS_MAX_HEAD_BYTES"):
        from_env({"KUBELESS_MAX_HEAD_BYTES": "lots"})
