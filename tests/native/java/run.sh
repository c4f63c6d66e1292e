#!/usr/bin/env bash
# Native tests of the Java runtime (server, worker JVMs, build step) with JUnit under Maven.
set -euo pipefail
cd "$(dirname "$0")/../../.."
mvn -B -q -f images/java/pom.xml install
mvn -B -f tests/native/java/pom.xml test
