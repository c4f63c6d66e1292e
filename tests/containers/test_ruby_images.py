"""The Ruby images: non-root, and the installation phase's gem sources that need a server.

RubyGems itself is not reachable from these machines, so a private gem source is a gem
repository this test builds (``gem build`` in the installation image, a full index written by
:data:`INDEX`) and serves on 127.0.0.1; only that one installation container runs on the host
network, to reach it. vendor/cache is covered by the conformance function (a zip with the gem
in vendor/cache) and the gems Debian ships by the hellowithdeps example.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .helpers import SESSION_LABELS, http, run_phase, serve_directory, serve_function

pytestmark = pytest.mark.container

RUNTIME = "ruby3.3"
GEMSPEC = """
Gem::Specification.new do |spec|
  spec.name = 'kubeless_private_gem'
  spec.version = '2.1.0'
  spec.summary = 'A gem served only by the test'
  spec.authors = ['kubeless-runtime']
  spec.files = ['lib/kubeless_private_gem.rb']
end
"""
LIBRARY = "module KubelessPrivateGem\n  def self.hello = 'hello from a private gem'\nend\n"
# The "full index" Bundler falls back to when a source has no compact index (plain files).
INDEX = r"""
require 'rubygems/package'
require 'zlib'
Dir.chdir(ARGV.fetch(0))
specs = Dir['gems/*.gem'].map { |path| Gem::Package.new(path).spec }
tuples = specs.map { |s| [s.name, s.version, s.platform.to_s] }
{ 'specs' => tuples, 'latest_specs' => tuples, 'prerelease_specs' => [] }.each do |name, list|
  Zlib::GzipWriter.open("#{name}.4.8.gz") { |gz| gz.write(Marshal.dump(list)) }
end
Dir.mkdir('quick') unless Dir.exist?('quick')
Dir.mkdir('quick/Marshal.4.8') unless Dir.exist?('quick/Marshal.4.8')
specs.each do |s|
  File.binwrite("quick/Marshal.4.8/#{s.full_name}.gemspec.rz",
                Zlib::Deflate.deflate(Marshal.dump(s)))
end
"""
FUNCTION = """
require 'kubeless_private_gem'

def handler(event, context)
  KubelessPrivateGem.hello
end
"""


@pytest.fixture(scope="module")
def gem_server(runtime_images, docker_engine, tmp_path_factory) -> Iterator[str]:
    """http://127.0.0.1:PORT serving a gem repository with kubeless_private_gem 2.1.0."""
    work = tmp_path_factory.mktemp("gems")
    (work / "src" / "lib").mkdir(parents=True)
    (work / "src" / "kubeless_private_gem.gemspec").write_text(GEMSPEC)
    (work / "src" / "lib" / "kubeless_private_gem.rb").write_text(LIBRARY)
    (work / "repo" / "gems").mkdir(parents=True)
    (work / "index.rb").write_text(INDEX)
    script = ("cd /work/src && gem build --silent kubeless_private_gem.gemspec "
              "&& mv kubeless_private_gem-2.1.0.gem /work/repo/gems/ "
              "&& ruby /work/index.rb /work/repo")
    docker_engine.containers.run(
        runtime_images.image(RUNTIME, "installation"), ["sh", "-c", script], remove=True,
        network_mode="none", volumes={str(work): {"bind": "/work", "mode": "rw"}},
        labels=SESSION_LABELS)
    with serve_directory(work / "repo") as url:
        yield url


def test_runtime_image_is_small_and_unprivileged(runtime_images, docker_engine):
    for runtime in ("ruby3.1", "ruby3.3"):
        image = docker_engine.images.get(runtime_images.image(runtime))
        assert image.attrs["Config"]["User"] == "1000:1000"
        out = docker_engine.containers.run(
            image.id, ["ruby", "-e", "puts [RUBY_VERSION, Process.uid, "
                       "File.exist?('/tmp/build/ca-bundle.crt')].join(' ')"],
            remove=True, labels=SESSION_LABELS).decode().split()
        assert out[0].startswith(runtime[4:]) and out[1:] == ["1000", "false"], out
        print(f"\n{runtime}: ruby {out[0]}, image {image.attrs['Size'] / 1e6:.0f} MB")
        budget = runtime_images.runtime(runtime).image("runtime").size_budget_mb
        assert image.attrs["Size"] < budget * 1e6


@pytest.mark.parametrize("how", ["gemfile-source", "mirror"])
def test_gem_from_a_private_source(runtime_images, docker_engine, gem_server, tmp_path, how):
    volume = tmp_path / "kubeless"
    volume.mkdir()
    volume.chmod(0o777)
    (volume / "fn.rb").write_text(FUNCTION)
    env = {}
    if how == "gemfile-source":
        source = gem_server
    else:  # a Gemfile naming a source that does not resolve; Bundler's mirror setting wins
        source = "https://gems.example.invalid"
        env["BUNDLE_MIRROR__ALL"] = gem_server
    (volume / "Gemfile").write_text(f"source '{source}'\ngem 'kubeless_private_gem', '~> 2.1'\n")
    assert run_phase(docker_engine, runtime_images, RUNTIME, "installation", volume, env) == 0
    assert (volume / "gems" / "gems" / "kubeless_private_gem-2.1.0").is_dir()
    with serve_function(docker_engine, runtime_images.image(RUNTIME), volume) as url:
        assert http(url) == (200, b"hello from a private gem")


def test_gem_found_nowhere_fails_naming_the_gem_and_the_sources(runtime_images, docker_engine,
                                                                 gem_server, tmp_path):
    volume = tmp_path / "kubeless"
    volume.mkdir()
    (volume / "Gemfile").write_text(f"source '{gem_server}'\ngem 'kubeless_no_such_gem'\n")
    assert run_phase(docker_engine, runtime_images, RUNTIME, "installation", volume) != 0
    message = (volume / "termination-log").read_text()
    assert "kubeless_no_such_gem" in message
    for source in (gem_server, "vendor/cache", "installed in the image"):
        assert source in message, message
