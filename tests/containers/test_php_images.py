"""The PHP images: non-root, no Apache or php-fpm, and the Composer repositories that need a
server or a bundle.

Packagist is not reachable from these machines, so a private Composer repository is a
``packages.json`` and a dist zip this test writes and serves on 127.0.0.1; only that one
installation container runs on the host network, to reach it. An ``artifact`` repository
(zips in the bundle) installs with no network at all; ``path`` repositories are covered by
the conformance function and the hellowithdeps example.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from .helpers import SESSION_LABELS, http, run_phase, serve_directory, serve_function

pytestmark = pytest.mark.container

RUNTIME = "php8.4"
PACKAGE = {"name": "kubeless/private-greeting", "version": "3.0.1",
           "autoload": {"psr-4": {"Kubeless\\PrivateGreeting\\": "src/"}}}
CLASS = ("<?php\nnamespace Kubeless\\PrivateGreeting;\n\nfinal class Greeting\n{\n"
         "    public static function hello(): string { return 'hello from a private package'; }\n"
         "}\n")
FUNCTION = ("<?php\nuse Kubeless\\PrivateGreeting\\Greeting;\n\n"
            "function handler($event, $context)\n{\n    return Greeting::hello();\n}\n")


def package_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("composer.json", json.dumps(PACKAGE))
        archive.writestr("src/Greeting.php", CLASS)


@pytest.fixture(scope="module")
def composer_server(tmp_path_factory) -> Iterator[str]:
    """http://127.0.0.1:PORT serving a Composer repository with kubeless/private-greeting."""
    repo = tmp_path_factory.mktemp("composer")
    (repo / "dist").mkdir()
    package_zip(repo / "dist" / "private-greeting-3.0.1.zip")
    with serve_directory(repo) as url:
        dist = {"type": "zip", "url": f"{url}/dist/private-greeting-3.0.1.zip"}
        (repo / "packages.json").write_text(json.dumps(
            {"packages": {PACKAGE["name"]: {PACKAGE["version"]: {**PACKAGE, "dist": dist}}}}))
        yield url


def function_volume(tmp_path: Path, composer: Dict[str, Any]) -> Path:
    volume = tmp_path / "kubeless"
    volume.mkdir()
    (volume / "fn.php").write_text(FUNCTION)
    (volume / "composer.json").write_text(json.dumps(composer))
    return volume


def test_runtime_image_is_small_unprivileged_and_cli_only(runtime_images, docker_engine):
    for runtime in ("php8.2", "php8.4"):
        image = docker_engine.images.get(runtime_images.image(runtime))
        assert image.attrs["Config"]["User"] == "1000:1000"
        out = docker_engine.containers.run(
            image.id, ["sh", "-c", "php -r 'echo PHP_VERSION;'; echo \" $(id -u)\"; ls "
                       "/usr/sbin/apache2 /usr/sbin/php-fpm* /tmp/build 2>&1 | grep -c 'No such'"],
            remove=True, labels=SESSION_LABELS).decode().split()
        assert out[0].startswith(runtime[3:]) and out[2] == "3", out
        print(f"\n{runtime}: php {out[0]}, image {image.attrs['Size'] / 1e6:.0f} MB")
        budget = runtime_images.runtime(runtime).image("runtime").size_budget_mb
        assert image.attrs["Size"] < budget * 1e6


def test_package_from_a_private_composer_repository(runtime_images, docker_engine,
                                                    composer_server, tmp_path):
    volume = function_volume(tmp_path, {
        "require": {PACKAGE["name"]: "^3.0"},
        "repositories": [{"type": "composer", "url": composer_server}, {"packagist": False}],
        "config": {"secure-http": False}})
    assert run_phase(docker_engine, runtime_images, RUNTIME, "installation", volume,
                     network="host") == 0
    assert (volume / "vendor" / "kubeless" / "private-greeting" / "src" / "Greeting.php").is_file()
    with serve_function(docker_engine, runtime_images.image(RUNTIME), volume) as url:
        assert http(url) == (200, b"hello from a private package")


def test_package_from_an_artifact_repository_in_the_bundle(runtime_images, docker_engine,
                                                           tmp_path):
    volume = function_volume(tmp_path, {
        "require": {PACKAGE["name"]: "3.0.1"},
        "repositories": [{"type": "artifact", "url": "artifacts/"}, {"packagist": False}]})
    (volume / "artifacts").mkdir()
    package_zip(volume / "artifacts" / "private-greeting-3.0.1.zip")
    assert run_phase(docker_engine, runtime_images, RUNTIME, "installation", volume,
                     network="none") == 0
    with serve_function(docker_engine, runtime_images.image(RUNTIME), volume) as url:
        assert http(url) == (200, b"hello from a private package")


def test_package_found_nowhere_fails_with_a_clear_message(runtime_images, docker_engine,
                                                          composer_server, tmp_path):
    volume = function_volume(tmp_path, {
        "require": {"kubeless/nowhere": "^1.0"},
        "repositories": [{"type": "composer", "url": composer_server}, {"packagist": False}],
        "config": {"secure-http": False}})
    assert run_phase(docker_engine, runtime_images, RUNTIME, "installation", volume,
                     network="host") != 0
    message = (volume / "termination-log").read_text()
    assert "kubeless/nowhere" in message and f"composer {composer_server}" in message, message
    assert "Packagist turned off" in message, message
