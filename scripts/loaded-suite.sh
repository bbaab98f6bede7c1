#!/usr/bin/env bash
# Runs the whole test suite RUNS times in a row while the machine is loaded (issue 11 point 4: no
# flaky tests). The load is stress-ng on LOAD_CPUS CPU workers (default 1 of the 2 cores) plus a
# memory worker, for as long as the runs take. Prints one line per run and a total.
#   scripts/loaded-suite.sh [RUNS]          (default 10; build first: swift build --build-tests)
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-10}"
# The PostgreSQL tests need a server: one throwaway cluster for all the runs (make test's way).
if [ -z "${PUSHY_TEST_POSTGRES_URL:-}" ]; then
  exec bash scripts/pg-test-cluster.sh run -- bash "$PWD/scripts/loaded-suite.sh" "$@"
fi
export PUSHY_REQUIRE_POSTGRES=1
LOAD_CPUS="${LOAD_CPUS:-1}"
PER_RUN_LIMIT="${PER_RUN_LIMIT:-900}"
if ! command -v stress-ng >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y -q stress-ng >/dev/null || { echo "loaded-suite: cannot install stress-ng" >&2; exit 1; }
fi
logdir=$(mktemp -d /tmp/pushy-loaded-XXXXXX)
stress-ng --cpu "$LOAD_CPUS" --vm 1 --vm-bytes 256M --timeout $((RUNS * PER_RUN_LIMIT))s --quiet &
load=$!
trap 'kill $load 2>/dev/null; wait $load 2>/dev/null' EXIT
passed=0 failed=0
for i in $(seq 1 "$RUNS"); do
  start=$(date +%s)
  timeout "$PER_RUN_LIMIT" swift test --skip-build > "$logdir/run-$i.log" 2>&1
  rc=$?
  # A run killed at its limit leaves its children (servers, agents of this checkout) behind:
  # end them, so they do not load the next run.
  pkill -KILL -f "^$PWD/\.build/[^ ]*debug/pushy-" 2>/dev/null || true
  secs=$(( $(date +%s) - start ))
  summary=$(grep -E "Test run with [0-9]+ tests" "$logdir/run-$i.log" | tail -1)
  load1=$(cut -d' ' -f1 /proc/loadavg)
  if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  echo "run $i: rc=$rc ${secs}s load=$load1 ${summary:-no summary (see $logdir/run-$i.log)}"
  [ "$rc" -ne 0 ] && grep -E "^✘ Test [A-Za-z]+\(" "$logdir/run-$i.log" | sed 's/ recorded an issue.*//; s/ failed after.*//' | sort -u | sed 's/^/    /'
  if [ "$rc" -ne 0 ] && [ -z "$summary" ]; then
    # The run ended without Swift Testing's summary: a crash, a signal or the per-run limit.
    [ "$rc" -gt 128 ] && echo "    ended by signal $((rc - 128))"
    [ "$rc" -eq 124 ] && echo "    hit the per-run limit of ${PER_RUN_LIMIT}s"
    grep -E "Fatal error|Crash|signal|Assertion|Illegal instruction|Segmentation|error: Exited" "$logdir/run-$i.log" | head -5 | sed 's/^/    /'
    tail -n 5 "$logdir/run-$i.log" | sed 's/^/    last: /'
    ls -t /var/crash /tmp/*.crash 2>/dev/null | head -3 | sed 's/^/    crash file: /'
  fi
done
echo "loaded suite: $passed passed, $failed failed (logs in $logdir)"
[ "$failed" -eq 0 ]
