"""The C# images on Mono: the runtime image has no compiler and runs as uid 1000; a crashing
function takes only its worker; a DLL a project file names by HintPath is compiled against
and loaded.

NuGet is not reachable from these machines and the runtime has no feed: a package is a DLL
in the bundle. This test builds that DLL itself (mcs in the installation image, no network);
lib/ DLLs are covered by the conformance function and the fibonacci example.
"""

from __future__ import annotations

import zipfile

import pytest

from .helpers import SESSION_LABELS, http

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
