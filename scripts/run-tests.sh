#!/usr/bin/env bash
# Runs the Swift Testing suite from the already-built test binary (`swift build --build-tests`
# first). `swift test --skip-build` plans the whole build again before it starts the binary:
# 7 s at best, 20 s whenever the environment differs from the last build's (as inside
# scripts/pg-test-cluster.sh), so the binary is started directly when it is where SwiftPM puts it
# on Linux; elsewhere this falls back to `swift test --skip-build`. Arguments go to the runner
# (e.g. --filter AgentJobTests, --xunit-output FILE).
#   scripts/run-tests.sh [BIN_DIR] [-- ARGS…]     (BIN_DIR default .build/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/debug
if [ $# -gt 0 ] && [ "$1" != "--" ]; then BIN=$1; shift; fi
[ "${1:-}" = "--" ] && shift
binary="$BIN/pushyPackageTests.xctest"
if [ -f "$binary" ] && [ -x "$binary" ]; then
  exec "$binary" --testing-library swift-testing "$@"
fi
echo "run-tests: no test binary at $binary; using swift test --skip-build" >&2
exec swift test --skip-build "$@"
