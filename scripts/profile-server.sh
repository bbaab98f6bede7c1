#!/usr/bin/env bash
# Where the server's time goes during all-node jobs (issue 16 point 4): AGENTS swarm agents
# connect to a release pushy-server, then `perf record` samples the server (cpu-clock, the
# event these virtual machines offer) while JOBS jobs over all of them run. Prints the top
# functions by their own samples (demangled) and the server's CPU per job, and leaves the
# samples for `perf report -i FILE`. (valgrind 3.19's callgrind, which would count instructions,
# crashes inside valgrind on this server: "VALGRIND INTERNAL ERROR ... SIGSEGV".)
#   scripts/profile-server.sh [AGENTS] [JOBS]     (default 1000 agents, 10 jobs)
#   BIN=.build/release (a release build: `swift build -c release`), TOP=15
#   IDLE_SECONDS=N: instead of jobs, sample N seconds of idle heartbeating (after one interval
#   of settling) and print the server's CPU per 1,000 agents.
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS="${1:-1000}"
JOBS="${2:-10}"
BIN="${BIN:-.build/release}"
TOP="${TOP:-15}"
IDLE_SECONDS="${IDLE_SECONDS:-}"
for b in pushy-server pushy-swarm pushy; do
  [ -x "$BIN/$b" ] || { echo "profile-server: $BIN/$b is missing: run 'swift build -c release' (or set BIN)" >&2; exit 1; }
done
if ! command -v perf >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y -q linux-perf >/dev/null || { echo "profile-server: cannot install linux-perf" >&2; exit 1; }
fi

dir=$(mktemp -d /tmp/pushy-profile-XXXXXX)
server_pid="" swarm_pid="" stdin_pid=""
cleanup() {
  [ -n "$swarm_pid" ] && kill "$swarm_pid" 2>/dev/null || true
  [ -n "$stdin_pid" ] && kill "$stdin_pid" 2>/dev/null || true
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
api=$(free_port)
HOME="$dir" "$BIN/pushy-server" init --data-dir "$dir/data" --api-port "$api" --heartbeat-port "$(free_port)" \
  --command-port "$(free_port)" --metrics-listen 127.0.0.1:0 --no-user-config >/dev/null
export PUSHY_CONFIG="$dir/data/cli.json"
"$BIN/pushy-server" run --data-dir "$dir/data" --log-level warning >"$dir/server.log" 2>&1 &
server_pid=$!

# Bounded waits: the REST API, then every agent available.
wait_until() {  # what, seconds, command...
  local what=$1 secs=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$server_pid" 2>/dev/null || { echo "profile-server: the server exited while waiting for $what:" >&2; tail -5 "$dir/server.log" >&2; exit 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { echo "profile-server: timed out after ${secs}s waiting for $what (logs in $dir)" >&2; tail -5 "$dir/server.log" >&2; exit 1; }
    sleep 0.5
  done
}
wait_until "the server's REST API" 120 "$BIN/pushy" status
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["server_url"])' "$PUSHY_CONFIG")
swarm_args=(--server-url "$url" --user admin --key "$dir/data/admin.pem" --trusted-cert "$dir/data/tls.crt"
            --count "$AGENTS" --prefix prof --duration-ms 0 --fail-ratio 0 --stats-interval 3600)
timeout 600 "$BIN/pushy-swarm" "${swarm_args[@]}" --register-only >"$dir/register.log" 2>&1
# The swarm runs while its stdin stays open: a sleep holds it.
mkfifo "$dir/swarm.stdin"
sleep 100000 >"$dir/swarm.stdin" &
stdin_pid=$!
"$BIN/pushy-swarm" "${swarm_args[@]}" --no-register >"$dir/swarm.log" 2>&1 <"$dir/swarm.stdin" &
swarm_pid=$!
all_available() {
  [ "$("$BIN/pushy" node status --format json 2>/dev/null | python3 -c 'import json,sys; print(sum(1 for n in json.load(sys.stdin) if n.get("availability") == "available"))')" -ge "$AGENTS" ]
}
wait_until "$AGENTS agents available" 600 all_available

nodes=$(seq -f "prof-%06g" 0 $((AGENTS - 1)) | tr "\n" " ")
ticks=$(getconf CLK_TCK)
cpu_of() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
# Idle: let the connect burst settle for one heartbeat interval (the default 10 s) first.
[ -n "$IDLE_SECONDS" ] && sleep 10
cpu_before=$(cpu_of)
perf record -q -e cpu-clock -F 1999 -p "$server_pid" -o "$dir/perf.data" >"$dir/perf.log" 2>&1 &
perf_pid=$!
if [ -n "$IDLE_SECONDS" ]; then
  cpu_before=$(cpu_of)
  sleep "$IDLE_SECONDS"
else
  sleep 1
  for j in $(seq 1 "$JOBS"); do
    # shellcheck disable=SC2086
    timeout 600 "$BIN/pushy" job start true $nodes --wait-timeout 500 >"$dir/job-$j.txt" 2>&1 \
      || { echo "profile-server: job $j did not complete (see $dir/job-$j.txt)" >&2; exit 1; }
  done
fi
cpu_after=$(cpu_of)
kill -INT "$perf_pid" 2>/dev/null || true
wait "$perf_pid" 2>/dev/null || true
[ -s "$dir/perf.data" ] || { echo "profile-server: perf recorded nothing:" >&2; cat "$dir/perf.log" >&2; exit 1; }

if [ -n "$IDLE_SECONDS" ]; then
  echo "pushy-server profile: $AGENTS agents idle for ${IDLE_SECONDS} s, $(git rev-parse --short HEAD), $(lscpu | sed -n 's/^Model name: *//p')"
  echo "server CPU: $(awk -v t="$(( cpu_after - cpu_before ))" -v h="$ticks" -v s="$IDLE_SECONDS" -v n="$AGENTS" \
    'BEGIN { printf "%.3f %% of a core per 1,000 agents", 100 * t / h / s * 1000 / n }')"
else
  echo "pushy-server profile: $AGENTS agents, $JOBS all-node jobs of /bin/true, $(git rev-parse --short HEAD), $(lscpu | sed -n 's/^Model name: *//p')"
  echo "server CPU: $(awk -v t="$(( cpu_after - cpu_before ))" -v h="$ticks" -v j="$JOBS" 'BEGIN { printf "%.0f ms per job", 1000 * t / h / j }')"
fi
echo "top $TOP functions by their own samples (% of the server's samples):"
perf report -i "$dir/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
  | grep -E '^ +[0-9.]+%' | head -n "$TOP" \
  | sed -E 's/^ +([0-9.]+%) +\[[.k]\] +/\1  /' | swift demangle --simplified | cut -c1-160 | sed -E "s/ +$//" || true
echo "by library (% of the server's samples):"
perf report -i "$dir/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 8 \
  | sed -E 's/^ +([0-9.]+%) +/\1  /; s/ +$//' || true
echo "samples: $dir/perf.data (perf report -i $dir/perf.data)"
