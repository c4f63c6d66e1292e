"""The C# images on Mono: the runtime image has no compiler and runs as uid 1000; a crashing
function takes only its worker; DLLs a project names by HintPath, and packages restored from
a NuGet v3 feed or from a folder of .nupkg files in the bundle, are compiled against and
loaded.

NuGet's own feed is not reachable from these machines, so the feed is one this test writes
and serves on 127.0.0.1 (a service index and a flat container, the two resources a restore
reads), holding packages whose DLLs the test compiles with mcs in the installation image;
only the installation container runs on the host network, to reach it. lib/ DLLs are
covered by the conformance function and the fibonacci example.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest

from .helpers import SESSION_LABELS, http, run_phase, serve_directory, serve_function

pytestmark = pytest.mark.container

RUNTIMES = ("mono6.8", "mono6.12")
LIBRARY = """
namespace Greetings
{
    public static class Greeting
    {
        public static string Hello() { return "hello from a shipped DLL"; }
    }
}
"""
PROJECT = """<Project Sdk="Microsoft.NET.Sdk">
  <ItemGroup>
    <PackageReference Include="Kubeless.Functions" Version="0.1.1" />
    <Reference Include="Greetings"><HintPath>deps\\Greetings.dll</HintPath></Reference>
  </ItemGroup>
</Project>
"""
GREETER = """
using Kubeless.Functions;

public class greeter
{
    public object handler(Event k8Event, Context k8Context)
    {
        return Greetings.Greeting.Hello();
    }
}
"""
CRASHER = """
using System;
using Kubeless.Functions;

public class crasher
{
    private static int Deeper(int n) { return Deeper(n + 1) + 1; }

    public object handler(Event k8Event, Context k8Context)
    {
        switch (k8Event.Data as string)
        {
            case "exit": Environment.Exit(3); break;
            case "overflow": return Deeper(0);
            case "failfast": Environment.FailFast("failing fast on purpose"); break;
        }
        return "still serving";
    }
}
"""


def test_runtime_image_is_small_and_unprivileged(runtime_images, docker_engine):
    for runtime in RUNTIMES:
        image = docker_engine.images.get(runtime_images.image(runtime))
        assert image.attrs["Config"]["User"] == "1000:1000"
        out = docker_engine.containers.run(
            image.id, ["sh", "-c", "mono --version | head -1; id -u; "
                       "command -v mcs || echo no-mcs; "
                       "test -e /tmp/build/ca-bundle.crt && echo ca || echo no-ca"],
            remove=True, labels=SESSION_LABELS).decode().splitlines()
        version = runtime[len("mono"):]
        assert f"version {version}." in out[0] and out[1:] == ["1000", "no-mcs", "no-ca"], out
        print(f"\n{runtime}: {out[0]}, image {image.attrs['Size'] / 1e6:.0f} MB")
        budget = runtime_images.runtime(runtime).image("runtime").size_budget_mb
        assert image.attrs["Size"] < budget * 1e6


def test_a_crash_takes_only_its_worker(fn, tmp_path):
    source = tmp_path / "crasher.cs"
    source.write_text(CRASHER)
    deployment = fn("crash", "mono6.12", from_file=str(source), handler="crasher.handler")
    for how in ("exit", "overflow", "failfast"):
        status, body = http(deployment.url, data=how.encode(), method="POST",
                            headers={"Content-Type": "text/plain"})
        assert status == 500, (how, status, body)
        assert http(deployment.url) == (200, b"still serving"), how
    assert http(deployment.url + "/healthz")[0] == 200


def test_a_hintpath_dll_in_the_bundle_is_compiled_against_and_loaded(fn, runtime_images,
                                                                      docker_engine, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o777)
    (work / "Greetings.cs").write_text(LIBRARY)
    docker_engine.containers.run(
        runtime_images.image("mono6.8", "installation"),
        ["mcs", "-target:library", "-out:/work/Greetings.dll", "/work/Greetings.cs"],
        remove=True, network_mode="none", user="1000:1000",
        volumes={str(work): {"bind": "/work", "mode": "rw"}}, labels=SESSION_LABELS)
    bundle = tmp_path / "greeter.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("greeter.cs", GREETER)
        archive.writestr("project.csproj", PROJECT)
        archive.write(work / "Greetings.dll", "deps/Greetings.dll")
    deployment = fn("hint", "mono6.8", from_file=str(bundle), handler="greeter.handler")
    assert http(deployment.url) == (200, b"hello from a shipped DLL")


# Two packages: Kubeless.Greeting 2.0.0 (net45) depends on Kubeless.Words [1.0,2.0).
PACKAGES = {
    ("Kubeless.Words", "1.3.0"): ("", "namespace Kubeless.Words { public static class Words "
                                      "{ public static string Hello() { return \"hello\"; } } }"),
    ("Kubeless.Greeting", "2.0.0"): (
        '<group targetFramework=".NETFramework4.5">'
        '<dependency id="Kubeless.Words" version="[1.0,2.0)" /></group>',
        "namespace Kubeless.Greeting { public static class Greeting { public static string "
        "Hello() { return Kubeless.Words.Words.Hello() + \" from a NuGet feed\"; } } }"),
}
RESTORED = """
using Kubeless.Functions;

public class fn
{
    public object handler(Event k8Event, Context k8Context)
    {
        return Kubeless.Greeting.Greeting.Hello();
    }
}
"""


def nupkgs(docker_engine: Any, image: str, work: Path) -> Dict[str, bytes]:
    """{file name: .nupkg bytes} of PACKAGES, their DLLs compiled by mcs in ``image``."""
    work.mkdir()
    work.chmod(0o777)
    commands = []
    for (name, _), (_, source) in PACKAGES.items():
        (work / f"{name}.cs").write_text(source)
        refs = " -r:/work/Kubeless.Words.dll" if name != "Kubeless.Words" else ""
        commands.append(f"mcs -target:library{refs} -out:/work/{name}.dll /work/{name}.cs")
    docker_engine.containers.run(image, ["sh", "-c", " && ".join(commands)], remove=True,
                                 network_mode="none", user="1000:1000",
                                 volumes={str(work): {"bind": "/work", "mode": "rw"}},
                                 labels=SESSION_LABELS)
    packages = {}
    for (name, version), (dependencies, _) in PACKAGES.items():
        target = work / "pkg.nupkg"
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr(f"{name}.nuspec", (
                '<?xml version="1.0"?><package><metadata>'
                f"<id>{name}</id><version>{version}</version><authors>test</authors>"
                f"<description>test</description><dependencies>{dependencies}</dependencies>"
                "</metadata></package>"))
            archive.write(work / f"{name}.dll", f"lib/net45/{name}.dll")
        packages[f"{name}.{version}.nupkg"] = target.read_bytes()
    return packages


@contextlib.contextmanager
def serve_feed(root: Path, built: Dict[str, bytes], tls: Optional[ssl.SSLContext] = None,
               host: str = "127.0.0.1") -> Iterator[str]:
    """A NuGet v3 feed of ``built`` on 127.0.0.1; yields its index.json URL."""
    with serve_directory(root, tls, host) as url:
        (root / "v3").mkdir(parents=True)
        (root / "v3" / "index.json").write_text(json.dumps({"version": "3.0.0", "resources": [
            {"@id": f"{url}/flat/", "@type": "PackageBaseAddress/3.0.0"}]}))
        for (name, version) in PACKAGES:
            folder = root / "flat" / name.lower()
            (folder / version).mkdir(parents=True)
            (folder / "index.json").write_text(json.dumps({"versions": ["0.9.0", version]}))
            (folder / version / f"{name.lower()}.{version}.nupkg").write_bytes(
                built[f"{name}.{version}.nupkg"])
        yield f"{url}/v3/index.json"


@pytest.fixture(scope="module")
def built_packages(runtime_images, docker_engine, tmp_path_factory) -> Dict[str, bytes]:
    return nupkgs(docker_engine, runtime_images.image("mono6.8", "installation"),
                  tmp_path_factory.mktemp("nupkgs") / "build")


@pytest.fixture(scope="module")
def nuget_feed(built_packages, tmp_path_factory) -> Iterator[str]:
    """http://127.0.0.1:PORT/v3/index.json: a NuGet v3 feed holding PACKAGES."""
    with serve_feed(tmp_path_factory.mktemp("feed"), built_packages) as url:
        yield url


@pytest.mark.parametrize("how", ["project", "env"])
def test_packages_restored_from_a_nuget_feed(runtime_images, docker_engine, nuget_feed,
                                             tmp_path, how):
    runtime = "mono6.12"
    volume = tmp_path / "kubeless"
    volume.mkdir()
    volume.chmod(0o777)
    (volume / "fn.cs").write_text(RESTORED)
    sources = f"<PropertyGroup><RestoreSources>{nuget_feed}</RestoreSources></PropertyGroup>"
    (volume / "project.csproj").write_text(
        '<Project Sdk="Microsoft.NET.Sdk">' + (sources if how == "project" else "") +
        '<ItemGroup><PackageReference Include="Kubeless.Greeting" Version="2.0" /></ItemGroup>'
        "</Project>")
    env = {"RestoreSources": nuget_feed} if how == "env" else {}
    assert run_phase(docker_engine, runtime_images, runtime, "installation", volume, env) == 0
    assert (volume / "packages" / "kubeless.words" / "1.3.0" / "Kubeless.Words.dll").is_file()
    assert run_phase(docker_engine, runtime_images, runtime, "compilation", volume, {}) == 0
    with serve_function(docker_engine, runtime_images.image(runtime), volume) as url:
        assert http(url) == (200, b"hello from a NuGet feed")


def test_a_package_missing_from_the_feed_is_named(runtime_images, docker_engine, nuget_feed,
                                                  tmp_path):
    volume = tmp_path / "kubeless"
    volume.mkdir()
    (volume / "project.csproj").write_text(
        f"<Project><PropertyGroup><RestoreSources>{nuget_feed}</RestoreSources></PropertyGroup>"
        '<ItemGroup><PackageReference Include="Kubeless.Greeting" Version="[3.0]" />'
        "</ItemGroup></Project>")
    assert run_phase(docker_engine, runtime_images, "mono6.8", "installation", volume, {}) != 0
    message = (volume / "termination-log").read_text()
    assert "Kubeless.Greeting [3.0]" in message and nuget_feed in message, message
    assert "0.9.0, 2.0.0" in message, message


def test_an_https_feed_is_trusted_through_the_mounted_ca_bundle(runtime_images, docker_engine,
                                                                 built_packages, tmp_path):
    """A feed behind a CA the system does not know, as behind a TLS-intercepting proxy.

    By host name: Mono's TLS does not match a certificate's IP addresses.
    """
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with serve_feed(tmp_path / "feed", built_packages, tls, host="localhost") as url:
        for trusted in (False, True):
            volume = tmp_path / f"kubeless-{trusted}"
            volume.mkdir()
            (volume / "project.csproj").write_text(
                f"<Project><PropertyGroup><RestoreSources>{url}</RestoreSources></PropertyGroup>"
                '<ItemGroup><PackageReference Include="Kubeless.Greeting" Version="2.0" />'
                "</ItemGroup></Project>")
            code = run_phase(docker_engine, runtime_images, "mono6.12", "installation", volume, {},
                             ca_file=ca_file if trusted else None)
            message = (volume / "termination-log").read_text()
            if trusted:
                assert code == 0, message
                assert (volume / "packages" / "kubeless.greeting" / "2.0.0").is_dir()
            else:
                assert code != 0 and f"The NuGet feed {url} cannot be reached" in message, message


def test_packages_restored_offline_from_a_folder_in_the_bundle(fn, built_packages, tmp_path):
    """nuget.config naming a folder of .nupkg files in the zip: the ordinary deploy, no network."""
    built = built_packages
    bundle = tmp_path / "fn.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("fn.cs", RESTORED)
        archive.writestr("project.csproj", '<Project Sdk="Microsoft.NET.Sdk"><ItemGroup>'
                         '<PackageReference Include="Kubeless.Greeting" Version="2.0.0" />'
                         "</ItemGroup></Project>")
        archive.writestr("nuget.config", '<?xml version="1.0" encoding="utf-8"?><configuration>'
                         '<packageSources><clear /><add key="bundled" value="nupkgs" />'
                         "</packageSources></configuration>")
        for name, data in built.items():
            archive.writestr(f"nupkgs/{name}", data)
    deployment = fn("feed", "mono6.8", from_file=str(bundle), handler="fn.handler")
    assert http(deployment.url) == (200, b"hello from a NuGet feed")
