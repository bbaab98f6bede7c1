#!/usr/bin/env bash
# Server RSS over time with N virtual agents: shows when libzmq's pipes stop growing.
# usage: BIN=.build-release/release scripts/experiments/steady-memory.sh N HEARTBEAT_SECONDS CHECKPOINT_SECONDS...
# e.g.   scripts/experiments/steady-memory.sh 2000 1 60 120 240 360   (1 s beats fill pipes 10x faster)
# Prints, at each checkpoint: RSS, nodes with a session, open connections, which libzmq.
set -euo pipefail
BIN="${BIN:-.build-release/release}"
N="$1"; HB="$2"; shift 2
D="$(mktemp -d /tmp/pushy-steady-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$D"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
API=$(free_port)
HOME="$D" "$BIN/pushy-server" init --data-dir "$D" --api-port "$API" --heartbeat-port "$(free_port)" \
  --command-port "$(free_port)" --heartbeat-interval "$HB" --metrics-listen 127.0.0.1:0 --no-user-config > /dev/null
"$BIN/pushy-server" run --data-dir "$D" --log-level warning > "$D/server.log" 2>&1 &
server=$!; pids+=("$server")
until curl -skf "https://127.0.0.1:$API/pushy/_status" > /dev/null; do sleep 0.2; done
URL="https://127.0.0.1:$API/organizations/pushy"
common=(--server-url "$URL" --user admin --key "$D/admin.pem" --trusted-cert "$D/tls.crt" --prefix swarm
        --duration-ms 0 --fail-ratio 0 --address-spread 4 --stats-interval 10)
shares=$(( (N + 3999) / 4000 )); per=$(( (N + shares - 1) / shares ))
regs=()
for ((i = 0; i < shares; i++)); do
  first=$((i * per)); c=$(( N - first < per ? N - first : per ))
  "$BIN/pushy-swarm" "${common[@]}" --count "$c" --first-index "$first" --register-only < /dev/null > "$D/reg-$i.log" 2>&1 &
  regs+=($!)
done
wait "${regs[@]}"
t0=$(date +%s)
for ((i = 0; i < shares; i++)); do
  first=$((i * per)); c=$(( N - first < per ? N - first : per ))
  # stdin held open: the swarm quits when it closes.
  (sleep infinity | "$BIN/pushy-swarm" "${common[@]}" --count "$c" --first-index "$first" --no-register > "$D/swarm-$i.log" 2>&1) &
  pids+=($!)
done
for t in "$@"; do
  while (( $(date +%s) - t0 < t )); do sleep 1; done
  rss=$(awk '/^VmRSS/{print $2}' "/proc/$server/status")
  status=$(curl -sk "https://127.0.0.1:$API/pushy/_status" | python3 -c 'import json,sys; d=json.load(sys.stdin); z=d.get("libzmq",{}); print(d["node_fsm_count"], "nodes,", d["connections"]["open"], "connections, libzmq", z.get("version"), "built in" if z.get("built_in") else "shared")')
  echo "N=$N heartbeat=${HB}s t=${t}s rss=$((rss / 1024)) MB  $status"
done
