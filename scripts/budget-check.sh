#!/usr/bin/env bash
# Drives a release pushy-server past its descriptor budget on this machine and prints what an
# operator would see: how many agents got in, how many were told to wait (503), the server's
# CPU while it holds the budget, REST latency, accept failures and the budget log lines.
#   scripts/budget-check.sh [AGENTS_PER_PROCESS] [PROCESSES]     (default 3500 x 3 = 10,500)
# Needs a release build: swift build -c release (or BIN=.build-release/release).
set -euo pipefail
BIN=${BIN:-.build/release}
PER=${1:-3500}
PROCS=${2:-3}
D=$(mktemp -d /tmp/pushy-budget.XXXXXX)
API=$((20000 + RANDOM % 10000)); HB=$((API + 1)); CMD=$((API + 2))
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
"$BIN/pushy-server" init --data-dir "$D/server" >/dev/null
"$BIN/pushy-server" run --data-dir "$D/server" --api-port $API --heartbeat-port $HB --command-port $CMD \
  --metrics-listen 127.0.0.1:0 > "$D/server.log" 2>&1 &
SERVER=$!
URL=https://127.0.0.1:$API/organizations/pushy
for _ in $(seq 100); do curl -skf https://127.0.0.1:$API/pushy/_status >/dev/null 2>&1 && break; sleep 0.2; done
for p in $(seq 0 $((PROCS - 1))); do
  # pushy-swarm stops at the end of its standard input: give it one that stays open.
  sleep 100000 | "$BIN/pushy-swarm" --server-url "$URL" --key "$D/server/admin.pem" --trusted-cert "$D/server/tls.crt" \
    --count $PER --first-index $((p * PER)) --prefix budget --address-spread 4 --splay-seconds 10 \
    --stats-interval 30 > "$D/swarm-$p.log" 2>&1 &
done
echo "budget-check: $((PER * PROCS)) agents in $PROCS swarm processes against one server (logs in $D)"
sleep ${SETTLE:-120}
cpu() { awk '{print $14 + $15}' /proc/$SERVER/stat; }
c0=$(cpu); t0=$(date +%s.%N); sleep 20; c1=$(cpu); t1=$(date +%s.%N)
tick=$(getconf CLK_TCK)
CLI=(--server-url "$URL" --user admin --key "$D/server/admin.pem" --trusted-cert "$D/server/tls.crt")
s0=$(date +%s%N); "$BIN/pushy" node status "${CLI[@]}" --format json > "$D/nodes.json"; s1=$(date +%s%N)
echo "available agents:        $(grep -cE '"availability": ?"available"' "$D/nodes.json")"
echo "server open files:       $(ls /proc/$SERVER/fd | wc -l) (soft limit $(awk '/Max open files/{print $4}' /proc/$SERVER/limits))"
echo "server CPU at the budget: $(echo "($c1 - $c0) / $tick / ($t1 - $t0) * 100" | bc -l | cut -c1-5) % of one core (20 s)"
echo "node_states answer:      $(( (s1 - s0) / 1000000 )) ms"
echo "status:                  $("$BIN/pushy" status "${CLI[@]}" 2>&1 | grep -i connections)"
echo "swarms (last stats):";  for f in "$D"/swarm-*.log; do tail -1 "$f" | cut -c1-160; done
echo "server log (budget):";  grep -E "connection budget|accept\(\) failed|refused [0-9]" "$D/server.log" | cut -c1-240 | head -8
