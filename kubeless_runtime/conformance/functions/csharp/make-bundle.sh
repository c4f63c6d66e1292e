#!/usr/bin/env bash
# Rebuild conformance.zip: conformance.cs, project.csproj and lib/KubelessConformanceDep.dll
# (compiled from KubelessConformanceDep.cs; IMAGE as in scripts/mcs-bundle.sh).
set -euo pipefail
cd "$(dirname "$0")"
exec bash "$(git rev-parse --show-toplevel)/scripts/mcs-bundle.sh" conformance.zip \
    KubelessConformanceDep.cs conformance.cs project.csproj
