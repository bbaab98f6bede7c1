#!/usr/bin/env bash
# `make test`, step by step: each step says when it starts and how long it took, and a table at
# the end sums them up. A failing step ends the run with its exit status.
#   boundaries     module boundaries (scripts/check-boundaries.sh)
#   build          swift build --build-tests
#   agent-libs     pushy-client needs no full Foundation or ICU (scripts/check-agent-libs.sh)
#   tests          every Swift Testing test, inside a throwaway PostgreSQL cluster, with the
#                  dashboard's browser test required (scripts/run-tests.sh)
#   install-check  install into a temporary PREFIX and start the installed server
#   floor-bench    pushy-bench at 200 agents with the floor beside Pushy (no timing asserted)
#   fuzz           every fuzz harness for FUZZ_TEST_RUNS inputs (unoptimised build)
#   soak           the two-minute churn soak (2,000 agents)
# The fuzzers are a package of their own with their own build; it starts in the background
# right after the main build, at the lowest CPU priority (nice 19), so it takes only the CPU
# the tests leave idle, and the fuzz step waits for it.
# Environment: BIN (.build/debug), SWIFT_BUILD_FLAGS, BENCH_TEST_ARGS, FUZZ_TEST_RUNS (20000),
# SOAK_TEST_ARGS.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/debug}
SWIFT_BUILD_FLAGS=${SWIFT_BUILD_FLAGS:-}
BENCH_TEST_ARGS=${BENCH_TEST_ARGS:---sizes 200 --quick --no-write --strict --interval 2 --idle-seconds 4 --job-runs 2 --single-runs 2 --settle-max-seconds 0}
FUZZ_TEST_RUNS=${FUZZ_TEST_RUNS:-20000}
SOAK_TEST_ARGS=${SOAK_TEST_ARGS:-}

steps=$(mktemp /tmp/pushy-make-test-steps.XXXXXX)
fuzz_log=$(mktemp /tmp/pushy-make-test-fuzz-build.XXXXXX)
fuzz_pid=""
cleanup() {
  if [ -n "$fuzz_pid" ] && kill -0 "$fuzz_pid" 2>/dev/null; then
    kill -TERM -- "-$fuzz_pid" 2>/dev/null || kill -TERM "$fuzz_pid" 2>/dev/null
    wait "$fuzz_pid" 2>/dev/null
  fi
  rm -f "$steps" "$fuzz_log"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

summary() {
  echo "[make test] time per step"
  awk -F'\t' '{ printf "   %-14s %7.1f s  %s\n", $1, $2, $3; total += $2 } END { printf "   %-14s %7.1f s\n", "total", total }' "$steps"
}

# step NAME COMMAND [ARG…]: runs it, timed; a failure prints the table so far and exits.
step() {
  local name=$1; shift
  echo "[make test] $name: $*"
  local start rc secs outcome
  start=$(date +%s%N)
  "$@"
  rc=$?
  secs=$(awk -v ns=$(( $(date +%s%N) - start )) 'BEGIN { printf "%.1f", ns / 1e9 }')
  if [ $rc -eq 0 ]; then outcome=ok; else outcome="FAILED (exit $rc)"; fi
  printf '%s\t%s\t%s\n' "$name" "$secs" "$outcome" >> "$steps"
  echo "[make test] $name: $outcome after $secs s"
  if [ $rc -ne 0 ]; then summary; exit $rc; fi
}

# Waits for the background fuzz build; on failure shows its log's end.
fuzz_build_done() {
  local rc=0
  wait "$fuzz_pid" || rc=$?
  fuzz_pid=""
  [ $rc -eq 0 ] || { echo "fuzz build failed (exit $rc):" >&2; tail -30 "$fuzz_log" >&2; }
  return $rc
}

step boundaries bash scripts/check-boundaries.sh
# shellcheck disable=SC2086
step build swift build --build-tests $SWIFT_BUILD_FLAGS
step agent-libs bash scripts/check-agent-libs.sh "$BIN"
setsid nice -n 19 env FUZZ_CONFIG=debug FUZZ_BUILD_ONLY=1 bash scripts/fuzz.sh > "$fuzz_log" 2>&1 &
fuzz_pid=$!
echo "[make test] fuzz build: started in the background at nice 19 (pid $fuzz_pid)"
step tests bash scripts/pg-test-cluster.sh run -- env PUSHY_REQUIRE_BROWSER=1 PUSHY_REQUIRE_POSTGRES=1 \
  bash scripts/run-tests.sh "$BIN"
step install-check bash scripts/install-check.sh "$BIN"
# shellcheck disable=SC2086
step floor-bench timeout --kill-after=30 900 "$BIN/pushy-bench" scale --bin "$BIN" $BENCH_TEST_ARGS
step fuzz-build fuzz_build_done
step fuzz env FUZZ_CONFIG=debug bash scripts/fuzz.sh "$FUZZ_TEST_RUNS"
# shellcheck disable=SC2086
step soak timeout --kill-after=30 900 "$BIN/pushy-bench" soak --bin "$BIN" --agents 2000 --minutes 2 $SOAK_TEST_ARGS
summary
