#!/usr/bin/env bash
# Builds the libFuzzer harnesses in Fuzz/ (instrumented with -sanitize=fuzzer,address, scratch
# path Fuzz/.build-fuzz) and runs each for RUNS inputs, seeded from Fuzz/corpus/<harness>.
# Prints the executions per harness; exits non-zero on any crash, failed check, hang, leak or
# out-of-memory. Usage: scripts/fuzz.sh [RUNS] [harness ...]   (docs/fuzzing.md)
# FUZZ_CONFIG=debug builds unoptimised (scratch path Fuzz/.build-fuzz-debug): a third less build
# time from scratch and about half the speed, which is what `make test`'s short runs want.
# FUZZ_BUILD_ONLY=1 only builds.
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"

runs="${1:-1000000}"
shift || true
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  harnesses=(message-header json agent-message server-message rest search signing z85 keys)
fi
config="${FUZZ_CONFIG:-release}"
case "$config" in
  release) scratch=.build-fuzz ;;
  debug) scratch=.build-fuzz-debug ;;
  *) echo "fuzz: FUZZ_CONFIG must be release or debug, not '$config'" >&2; exit 2 ;;
esac
# Per-input limits: a parse taking over FUZZ_TIMEOUT seconds counts as a hang.
timeout="${FUZZ_TIMEOUT:-10}"
# libFuzzer reports crashes itself; Swift's backtracer would only hold the run up.
export SWIFT_BACKTRACE=enable=no
if [ "$runs" = 0 ]; then echo "fuzz: skipped (0 runs)"; exit 0; fi

swift build --scratch-path "$scratch" -c "$config" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing \
  2>&1 | grep -v -e "warning: Cannot export local symbol" -e "^\[[0-9]*/[0-9]*\] " || true
bin="$(swift build --scratch-path "$scratch" -c "$config" --show-bin-path 2>/dev/null)"
# FUZZ_BUILD_ONLY=1: build, then stop (make test builds in the background while its tests run).
if [ "${FUZZ_BUILD_ONLY:-}" = 1 ]; then
  for h in "${harnesses[@]}"; do
    [ -x "$bin/fuzz-$h" ] || { echo "fuzz: no harness binary $bin/fuzz-$h (build failed?)" >&2; exit 1; }
  done
  echo "fuzz: harnesses built in $bin"
  exit 0
fi

failed=()
printf '%-16s %10s %10s %8s\n' harness executions "exec/s" seconds
for h in "${harnesses[@]}"; do
  exe="$bin/fuzz-$h"
  [ -x "$exe" ] || { echo "fuzz: no harness binary $exe (build failed?)" >&2; exit 1; }
  work="$scratch/corpus/$h"   # new inputs go here, the committed seeds stay as they are
  mkdir -p "$work" "$scratch/artifacts"
  log="$scratch/fuzz-$h.log"
  extra=()
  # Query parsing costs ~25 us a character unsanitised and ~50x that instrumented, so a 4 KB
  # query of short words nears the hang limit; real queries are far shorter (docs/fuzzing.md).
  [ "$h" = search ] && extra=(-max_len=1024)
  start=$(date +%s%N)
  set +e
  "$exe" -runs="$runs" -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 ${extra[@]+"${extra[@]}"} \
    -artifact_prefix="$scratch/artifacts/$h-" "$work" "corpus/$h" >"$log" 2>&1
  rc=$?
  set -e
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  done_line="$(grep -E '^Done [0-9]+ runs' "$log" | tail -1 || true)"
  executions="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)"
  speed="?"
  [ -n "$executions" ] && speed=$(( executions * 1000 / (ms > 0 ? ms : 1) ))
  printf '%-16s %10s %10s %8s\n' "$h" "${executions:-?}" "$speed" "$(( ms / 1000 )).$(( ms % 1000 / 100 ))"
  if [ $rc -ne 0 ] || [ -z "$done_line" ]; then
    echo "fuzz: $h FAILED (exit $rc); log $PWD/$log, inputs in $PWD/$scratch/artifacts/:" >&2
    grep -E "ERROR|fuzz check failed|Fatal error|deadly signal|Test unit written" "$log" | head -20 >&2 || true
    failed+=("$h")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failing harnesses: ${failed[*]}" >&2
  exit 1
fi
