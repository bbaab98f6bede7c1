#!/usr/bin/env bash
# `make test`: installs into a temporary PREFIX (`make install-files`), checks the layout and
# that an upgrade keeps edited config, runs `systemd-analyze verify` on the installed units
# where it is present, then starts the installed server with the unit's own Environment,
# EnvironmentFile and ExecStart lines (only the ports, free ones, added to the installed
# environment file) and checks that it answers over HTTPS and on /metrics, and stops on SIGTERM.
# Usage: scripts/install-check.sh [BIN_DIR]   (default .build/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug}
T=$(mktemp -d /tmp/pushy-install.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -KILL "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "install-check: FAIL: $*" >&2; [ -f "$T/server.log" ] && tail -20 "$T/server.log" >&2; exit 1; }
step() { echo "install-check: $*"; }

PREFIX=$T/usr
make --no-print-directory install-files PREFIX="$PREFIX" INSTALL_BIN="$BIN" >/dev/null
UNITS=$PREFIX/lib/systemd/system
ETC=$PREFIX/etc/pushy
STATE=$PREFIX/var/lib

step "layout under $PREFIX"
for f in bin/pushy-server bin/pushy-client bin/pushy; do
  [ -x "$PREFIX/$f" ] || fail "$f is not an executable"
done
for f in "$UNITS/pushy-server.service" "$UNITS/pushy-client.service" "$ETC/pushy-server.env" "$ETC/client.json" \
         "$PREFIX/share/doc/pushy/operations.md" "$PREFIX/share/doc/pushy/configuration.md" \
         "$PREFIX/share/pushy/dashboard/nodes.html" "$PREFIX/share/pushy/dashboard/dashboard.js"; do
  [ -f "$f" ] || fail "missing $f"
done
[ "$(stat -c %a "$ETC/pushy-server.env")" = 640 ] || fail "pushy-server.env should be mode 0640"
if grep -nE '@[A-Z]+@' "$UNITS"/*.service "$ETC"/*; then fail "placeholders left in the installed files"; fi
grep -q "^ExecStart=$PREFIX/bin/pushy-server run" "$UNITS/pushy-server.service" || fail "server ExecStart does not name the installed binary"
grep -q "^LimitNOFILE=" "$UNITS/pushy-server.service" || fail "server unit has no LimitNOFILE"
grep -q "^User=root" "$UNITS/pushy-client.service" || fail "agent unit does not run as root"
if grep -q "^ExecReload=" "$UNITS/pushy-server.service"; then fail "ExecReload without a reload in the server"; fi
"$PREFIX/bin/pushy-client" --config "$ETC/client.json" --check-config >/dev/null 2>"$T/check.err" || true
grep -q "CHANGE-ME\|client_key\|trusted" "$T/check.err" || fail "the default agent config should ask to be filled in: $(cat "$T/check.err")"

step "upgrade keeps edited config"
echo "# edited by the operator" >> "$ETC/pushy-server.env"
make --no-print-directory install-files PREFIX="$PREFIX" INSTALL_BIN="$BIN" >/dev/null
grep -q "edited by the operator" "$ETC/pushy-server.env" || fail "a second install overwrote pushy-server.env"
[ -f "$ETC/pushy-server.env.default" ] || fail "a second install should leave the new default beside the kept file"

if command -v systemd-analyze >/dev/null; then
  step "systemd-analyze verify"
  # verify checks that ExecStart's binary exists (it does: the installed one) and every directive.
  systemd-analyze verify --man=no "$UNITS/pushy-server.service" "$UNITS/pushy-client.service" 2>&1 | tee "$T/verify.log"
  if grep -vE "^$|Failed to (open|create|look up|resolve) (user|group)|Cannot add dependency job" "$T/verify.log" | grep -q .; then
    fail "systemd-analyze verify reported problems (above)"
  fi
else
  step "systemd-analyze not present: unit verification skipped"
fi

step "start the installed server with the unit's ExecStart line"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
API=$(free_port); HB=$(free_port); CMD=$(free_port); METRICS=$(free_port)
cat >> "$ETC/pushy-server.env" <<ENV
PUSHY_SERVER_LISTEN_ADDRESS=127.0.0.1
PUSHY_SERVER_API_PORT=$API
PUSHY_SERVER_HEARTBEAT_PORT=$HB
PUSHY_SERVER_COMMAND_PORT=$CMD
PUSHY_SERVER_METRICS_LISTEN=127.0.0.1:$METRICS
ENV
# The unit's environment: its Environment= lines, then its EnvironmentFile.
unit_env=()
while IFS= read -r line; do unit_env+=("${line#Environment=}"); done < <(grep '^Environment=' "$UNITS/pushy-server.service")
envfile=$(grep '^EnvironmentFile=' "$UNITS/pushy-server.service" | sed 's/^EnvironmentFile=-\{0,1\}//')
while IFS= read -r line; do unit_env+=("$line"); done < <(grep -vE '^\s*(#|$)' "$envfile")
exec_start=$(grep '^ExecStart=' "$UNITS/pushy-server.service" | sed 's/^ExecStart=//')
DATA=$STATE/pushy
mkdir -p "$DATA" && chmod 0700 "$DATA"
env -i PATH=/usr/bin:/bin HOME="$T" "${unit_env[@]}" "$PREFIX/bin/pushy-server" init --no-user-config > "$T/init.log" \
  || fail "pushy-server init: $(cat "$T/init.log")"
env -i PATH=/usr/bin:/bin HOME="$T" "${unit_env[@]}" "$PREFIX/bin/pushy-server" config > "$T/config.txt" \
  || fail "pushy-server config failed"
grep -q "api_port .*= $API  (env \$PUSHY_SERVER_API_PORT)" "$T/config.txt" || fail "config does not show the env file's port: $(cat "$T/config.txt")"
# shellcheck disable=SC2086  # ExecStart is split into words as systemd does (no quotes in it)
env -i PATH=/usr/bin:/bin HOME="$T" "${unit_env[@]}" $exec_start > "$T/server.log" 2>&1 &
SERVER_PID=$!
ok=""
for _ in $(seq 1 150); do
  if curl -sf --cacert "$DATA/tls.crt" "https://127.0.0.1:$API/pushy/_status" > "$T/status.json" 2>/dev/null; then ok=1; break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited"
  sleep 0.2
done
[ -n "$ok" ] || fail "the server did not answer on https://127.0.0.1:$API within 30 s"
grep -q "it's alive" "$T/status.json" || fail "unexpected status: $(cat "$T/status.json")"
grep -q "pushy.api=https://" "$T/server.log" || fail "the server log should name its https URL: $(grep listening "$T/server.log")"
curl -sf "http://127.0.0.1:$METRICS/metrics" > "$T/metrics.txt" || fail "no /metrics on 127.0.0.1:$METRICS"
grep -q '^pushy_agents_connected 0' "$T/metrics.txt" || fail "unexpected /metrics: $(head -5 "$T/metrics.txt")"
# The installed server finds the dashboard's files under PREFIX/share/pushy/dashboard.
curl -sf --cacert "$DATA/tls.crt" "https://127.0.0.1:$API/dashboard/static/dashboard.css" > /dev/null \
  || fail "the installed server does not serve the dashboard's files from $PREFIX/share/pushy/dashboard"
env -i PATH=/usr/bin:/bin HOME="$T" "$PREFIX/bin/pushy" --config "$DATA/cli.json" status > "$T/cli.txt" 2>&1 \
  || fail "the installed CLI cannot reach the installed server: $(cat "$T/cli.txt")"
step "answers: https://127.0.0.1:$API/pushy/_status, /dashboard, http://127.0.0.1:$METRICS/metrics, 'pushy status'"
kill -TERM "$SERVER_PID"
for _ in $(seq 1 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$SERVER_PID" 2>/dev/null; then fail "the server did not stop within 30 s of SIGTERM"; fi
wait "$SERVER_PID" && rc=0 || rc=$?
SERVER_PID=""
[ "$rc" -eq 0 ] || fail "the server exited with $rc after SIGTERM"
step "ok (installed, verified, started with the unit's ExecStart, answered, stopped on SIGTERM)"
