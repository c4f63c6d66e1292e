#!/usr/bin/env bash
# Rebuild fibonacci.zip from fibonacci/: the function, its project.csproj and lib/MathTools.dll
# (compiled from fibonacci/lib-src/MathTools.cs; IMAGE as in scripts/mcs-bundle.sh).
set -euo pipefail
cd "$(dirname "$0")"
exec bash ../../scripts/mcs-bundle.sh fibonacci.zip fibonacci/lib-src/MathTools.cs \
    fibonacci/fibonacci.cs fibonacci/project.csproj
