#!/usr/bin/env bash
# Native tests of the C# runtime's launcher, Kubeless.Functions and kubeless-build: compiled
# with the sources they test into one assembly by Mono's mcs and run by Mono, ending in
# "N passed, N failed" (no NuGet here, so no test framework package: Tests.cs carries its
# own small runner). Mono is not on the project's machines, so they run in the C#
# installation image (images/csharp/Dockerfile.init), once per Mono version; with no Docker
# engine they are skipped with a message (scripts/test.sh runs native tests after setting the
# engine up).
set -euo pipefail
cd "$(dirname "$0")/../../.."
compile_and_run='mcs -debug -main:Kubeless.Tests.Runner -out:/tmp/kubeless-tests.exe \
    -r:System.Json.dll -r:System.Xml.Linq.dll -r:Mono.Posix.dll -r:Microsoft.CSharp.dll \
    -r:System.Net.Http.dll -r:System.IO.Compression.dll \
    images/csharp/Kubeless.Functions/*.cs images/csharp/launcher/*.cs images/csharp/kubeless-build/*.cs \
    tests/native/csharp/*.cs && mono --debug /tmp/kubeless-tests.exe'
if command -v mcs >/dev/null && command -v mono >/dev/null; then
    exec sh -c "$compile_and_run"
fi
source tests/native/in-image.sh
in_image csharp MONO_VERSION "6.12:trixie 6.8:bookworm" sh -c "$compile_and_run"
