#!/usr/bin/env bash
# Starts a Pushy server and three agents on this machine, runs a job found by search,
# prints the result, and ends with a sign-in link to the web dashboard. Interactive, it keeps the
# server and agents running for the dashboard until Enter or Ctrl-C; otherwise for
# PUSHY_DEMO_KEEP_SECONDS (default 0). It stops everything it started. Usage: scripts/demo.sh BIN_DIR
set -euo pipefail
BIN=${1:-.build/debug}
DEMO=$(mktemp -d /tmp/pushy-demo.XXXXXX)
API=${PUSHY_DEMO_API_PORT:-10003}
HB=${PUSHY_DEMO_HEARTBEAT_PORT:-10000}
CMD=${PUSHY_DEMO_COMMAND_PORT:-10002}
METRICS=${PUSHY_DEMO_METRICS_PORT:-10004}
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo: stopped the server and agents; logs and keys are in $DEMO"
}
trap cleanup EXIT

for port in $API $HB $CMD $METRICS; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "demo: port $port is in use; set PUSHY_DEMO_API_PORT / PUSHY_DEMO_HEARTBEAT_PORT / PUSHY_DEMO_COMMAND_PORT / PUSHY_DEMO_METRICS_PORT" >&2
    exit 1
  fi
done

echo "== pushy-server init"
"$BIN/pushy-server" init --data-dir "$DEMO/server" --api-port "$API" --heartbeat-port "$HB" --command-port "$CMD" \
  --metrics-listen "127.0.0.1:$METRICS" --heartbeat-interval 2 --no-user-config
export PUSHY_CONFIG="$DEMO/server/cli.json"

echo "== pushy-server run (log: $DEMO/server.log)"
"$BIN/pushy-server" run --data-dir "$DEMO/server" >"$DEMO/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do "$BIN/pushy" status >/dev/null 2>&1 && break; sleep 0.1; done
"$BIN/pushy" status

URL="https://127.0.0.1:$API/organizations/pushy"
CERT="$DEMO/server/tls.crt"   # the self-signed certificate init made; agents and the CLI trust it
for n in web1 web2 web3 db1; do
  role=webapp; [ "$n" = db1 ] && role=database
  "$BIN/pushy" client create "$n" --key-out "$DEMO/$n.pem" >/dev/null
  "$BIN/pushy-client" --server-url "$URL" --trusted-cert "$CERT" --node "$n" --key "$DEMO/$n.pem" --role "$role" \
    --whitelist 'chef-client=echo "pretend chef-client run on $CHEF_PUSH_NODE_NAME"' \
    --whitelist 'uptime=uptime' --file-dir "$DEMO/agent-$n" >"$DEMO/agent-$n.log" 2>&1 &
  PIDS+=($!)
  echo "== started agent $n (role $role)"
done

for _ in $(seq 1 100); do
  [ "$("$BIN/pushy" node status 2>/dev/null | grep -c available || true)" -ge 4 ] && break; sleep 0.2
done
echo "== pushy node status"
"$BIN/pushy" node status
echo "== pushy search node 'role:webapp'"
"$BIN/pushy" search node 'role:webapp'
echo "== pushy job start --quorum 90% chef-client --search 'role:webapp'"
"$BIN/pushy" job start --quorum 90% chef-client --search 'role:webapp'
echo "== pushy job start --follow uptime web1 db1   (live output, prefixed by node)"
"$BIN/pushy" job start --follow uptime web1 db1
echo "== pushy job list"
"$BIN/pushy" job list
echo "== Prometheus metrics (curl http://127.0.0.1:$METRICS/metrics; docs/operations.md)"
curl -sf "http://127.0.0.1:$METRICS/metrics" | grep -E '^pushy_(agents|jobs_started|jobs_ended_total\{status="complete"|messages_sent_total)' || true

echo "== pushy dashboard   (the web dashboard: a one-time sign-in link)"
# One link is used here to check that sign-in works (a session cookie comes back); the user gets a fresh one.
check=$("$BIN/pushy" dashboard 2>/dev/null)
if curl -s --cacert "$CERT" -o /dev/null -D - "$check" | grep -qi '^set-cookie: pushy_session='; then
  echo "dashboard: sign-in checked (a link turned into a session)"
else
  echo "demo: the dashboard sign-in link did not work (see $DEMO/server.log)" >&2
  exit 1
fi
LINK=$("$BIN/pushy" dashboard 2>/dev/null)
if [ -t 0 ] && [ -t 1 ]; then
  echo "Dashboard: open this link within 5 minutes (it works once); the server and agents keep running until you press Enter:"
  echo
  echo "    $LINK"
  echo
  read -r _ || true
else
  keep=${PUSHY_DEMO_KEEP_SECONDS:-0}
  echo "Dashboard sign-in link (works once, for 5 minutes, while the server runs: ${keep} s more here;"
  echo "run make demo in a terminal, or set PUSHY_DEMO_KEEP_SECONDS, to keep it up):"
  echo
  echo "    $LINK"
  echo
  sleep "$keep"
fi
