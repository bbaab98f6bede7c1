#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests (issue 17), from Debian's packages (make deps):
# a temporary directory holds the data, the log and the Unix socket; the server listens on
# 127.0.0.1 on a free port and runs as an unprivileged user (PostgreSQL refuses root: as root
# the cluster runs as the `postgres` system user, created when missing).
#
#   scripts/pg-test-cluster.sh start [PID]      prints PUSHY_TEST_POSTGRES_DIR=… and PUSHY_TEST_POSTGRES_URL=…
#   scripts/pg-test-cluster.sh stop DIR         stops the cluster and deletes DIR
#   scripts/pg-test-cluster.sh pause DIR [fast|immediate]   stops the server, keeps the data (tests of a lost database)
#   scripts/pg-test-cluster.sh resume DIR       starts it again on the same port
#   scripts/pg-test-cluster.sh run -- CMD ARG…  start, run CMD with PUSHY_TEST_POSTGRES_URL exported, stop on every path
#
# The URL names the `postgres` database of the superuser `pushy` (trust authentication, loopback
# only); tests create a database of their own in it. fsync is off: the data is thrown away.
# With PID (a test process; `run` gives its own), the cluster is that process's: once it is gone
# (a killed test run), the next `start` removes the cluster. Without, it stays until `stop`.
# PG_EXTRA_OPTIONS (e.g. "-c fsync=on -c shared_buffers=512MB") is added to the server's options
# after these, so it overrides them (pushy-bench cluster runs PostgreSQL as an operator would).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

die() { echo "pg-test-cluster: $*" >&2; exit 1; }

need_binaries() {
  [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] ||
    die "no PostgreSQL 15 server binaries in $PG_BIN: install Debian's postgresql package (make deps), or set PG_BIN"
}

# Runs a command as the cluster's user: `postgres` when we are root, ourselves otherwise.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

ensure_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  id -u postgres >/dev/null 2>&1 && return 0
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres ||
    die "cannot create the postgres system user to run the cluster as"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

server_options() {
  local dir=$1 port=$2
  echo "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=off" \
       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=32MB" \
       "${PG_EXTRA_OPTIONS:-}"
}

start_server() {
  local dir=$1 port=$2
  # In a subshell that first closes every inherited descriptor above 2: the server outlives this
  # script, and a descriptor it kept open (a pipe the caller watches, e.g. how a test's process
  # library sees its child end) would make the caller wait for the server instead of the script.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
    done
    as_owner "$PG_BIN/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/postgres.log" -o "$(server_options "$dir" "$port")" </dev/null >/dev/null
  )
}

# Stops and deletes clusters left behind by test runs that were killed.
sweep() {
  local d owner
  for d in "${TMPDIR:-/tmp}"/pushy-pg.*; do
    [ -f "$d/owner" ] || continue
    owner=$(cat "$d/owner")
    if ! kill -0 "$owner" 2>/dev/null; then
      as_owner "$PG_BIN/pg_ctl" stop -m immediate -D "$d/data" >/dev/null 2>&1 || true
      rm -rf "$d"
    fi
  done
}

cmd_start() {
  local owner=${1:-}
  need_binaries
  ensure_user
  sweep
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/pushy-pg.XXXXXX")
  [ -n "$owner" ] && echo "$owner" > "$dir/owner"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  if ! as_owner "$PG_BIN/initdb" -D "$dir/data" -U pushy -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    die "initdb failed (its output is above)"
  fi
  local attempt port
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    port=$(( 20000 + RANDOM % 10000 ))
    port_in_use "$port" && continue
    if start_server "$dir" "$port"; then
      echo "$port" > "$dir/port"
      echo "PUSHY_TEST_POSTGRES_DIR=$dir"
      echo "PUSHY_TEST_POSTGRES_URL=postgres://pushy@127.0.0.1:$port/postgres?sslmode=disable"
      return 0
    fi
  done
  tail -n 20 "$dir/postgres.log" >&2 || true
  rm -rf "$dir"
  die "the server did not start on a free port in 10 attempts (the log's tail is above)"
}

cmd_stop() {
  local dir=${1:?usage: stop DIR}
  [ -d "$dir/data" ] || { rm -rf "$dir"; return 0; }
  as_owner "$PG_BIN/pg_ctl" stop -w -t 30 -m fast -D "$dir/data" >/dev/null 2>&1 ||
    as_owner "$PG_BIN/pg_ctl" stop -m immediate -D "$dir/data" >/dev/null 2>&1 || true
  rm -rf "$dir"
}

cmd_pause() {
  local dir=${1:?usage: pause DIR [fast|immediate]} mode=${2:-fast}
  as_owner "$PG_BIN/pg_ctl" stop -w -t 30 -m "$mode" -D "$dir/data" >/dev/null
}

cmd_resume() {
  local dir=${1:?usage: resume DIR}
  start_server "$dir" "$(cat "$dir/port")"
}

cmd_run() {
  [ "${1:-}" = "--" ] && shift
  [ $# -gt 0 ] || die "usage: run -- COMMAND [ARG…]"
  local out
  out=$(cmd_start $$) || exit 1
  PUSHY_TEST_POSTGRES_DIR=$(sed -n 's/^PUSHY_TEST_POSTGRES_DIR=//p' <<<"$out")
  PUSHY_TEST_POSTGRES_URL=$(sed -n 's/^PUSHY_TEST_POSTGRES_URL=//p' <<<"$out")
  export PUSHY_TEST_POSTGRES_DIR PUSHY_TEST_POSTGRES_URL
  trap 'cmd_stop "$PUSHY_TEST_POSTGRES_DIR"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  echo "pg-test-cluster: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') at $PUSHY_TEST_POSTGRES_URL ($PUSHY_TEST_POSTGRES_DIR)" >&2
  local status=0
  "$@" || status=$?
  exit "$status"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  pause) shift; cmd_pause "$@" ;;
  resume) shift; cmd_resume "$@" ;;
  run) shift; cmd_run "$@" ;;
  *) sed -n '2,18p' "$SELF" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
