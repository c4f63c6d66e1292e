#!/usr/bin/env bash
# Native tests of the Go runtime (server, worker, protocol, kubeless-build) with go test.
# The tests sit beside the code in images/go/runtime, as Go keeps them; they need no
# network (GOPROXY=off): the runtime module uses the standard library only.
set -euo pipefail
cd "$(dirname "$0")/../../../images/go/runtime"
export PATH="$PATH:/usr/local/go/bin"
GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod go vet ./...
GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod go test -count=1 ./...
