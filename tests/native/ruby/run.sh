#!/usr/bin/env bash
# Native tests of the Ruby worker (images/ruby/worker.rb) with minitest. Ruby is not on the
# project's machines, so they run in the Ruby installation image (same Debian ruby and rack as
# the runtime image), built here from images/ruby/Dockerfile.init; with no Docker engine they
# are skipped with a message (scripts/test.sh runs native tests after setting the engine up).
set -euo pipefail
cd "$(dirname "$0")/../../.."
tests='Dir["tests/native/ruby/*_test.rb"].sort.each { |f| require File.expand_path(f) }'
if command -v ruby >/dev/null && ruby -e 'require "rack"; require "minitest"' 2>/dev/null; then
    exec ruby -e "$tests"
fi
source tests/native/in-image.sh
in_image ruby RUBY_VERSION "3.3:trixie 3.1:bookworm" ruby -e "$tests"
