#!/usr/bin/env bash
# Module boundaries (design.md §3, issue 12): the pure modules stay pure and the CLI imports only
# the REST client and the wire types. `make test` runs this first; a wrong import fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

# allowed TARGET "module module ..."
allowed() {
  local target=$1; shift
  local allow=" $* "
  while read -r file module; do
    if [[ "$allow" != *" $module "* ]]; then
      echo "boundary: $file imports $module, which $target must not use (allowed: $*)" >&2
      status=1
    fi
  done < <(grep -rHoE '^(@testable |@_exported )?import [A-Za-z_]+' "Sources/$target" | sed -E 's/:.*import / /')
}

# forbidden TARGET REGEX WHAT: no line of TARGET may match (I/O and clocks in a pure module).
forbidden() {
  local target=$1 regex=$2 what=$3
  if grep -rnE "$regex" "Sources/$target" >&2; then
    echo "boundary: $target is pure (no $what): see the lines above" >&2
    status=1
  fi
}

allowed PushyProtocol FoundationEssentials Synchronization Glibc Darwin COpenSSL Crypto _CryptoExtras
# Glibc/Darwin: the C maths (pow), which full Foundation used to re-export.
allowed PushyCore FoundationEssentials Synchronization Glibc Darwin PushyProtocol
allowed PushyCLI ArgumentParser Yams Foundation Dispatch Synchronization Glibc Darwin PushyAPIClient PushyProtocol
# The executable is thin: it calls PushyCLI's root command and nothing else.
allowed pushy PushyCLI ArgumentParser
for t in PushyProtocol PushyCore; do
  forbidden "$t" 'Date\(\)|\.now\b|ContinuousClock|SuspendingClock|FileManager|FileHandle|ProcessInfo|DispatchQueue|Thread\.|URLSession|fopen\(|socket\(|Task\.sleep' \
    "clocks, files, processes, threads or sockets: time and I/O come in as values"
done

# The agent without Foundation (docs/decisions.md): what pushy-client links imports
# FoundationEssentials, never Foundation (libFoundation and ICU, ~8.5 MiB per agent).
# scripts/check-agent-libs.sh checks the built binary too.
for t in PushyProtocol PushyCore PushyZMQ PushyAgent PushyAPIClient pushy-client; do
  if grep -rnE '^[[:space:]]*(@[[:alnum:]_]+ )*((public|package|internal) )?import( [[:alnum:]_]+)? Foundation([.[:space:]]|$)' "Sources/$t" >&2; then
    echo "boundary: $t is linked into pushy-client: import FoundationEssentials, not Foundation (lines above)" >&2
    status=1
  fi
done

# Metrics (issue 15): swift-metrics and swift-prometheus belong to the server alone.
for m in Prometheus CoreMetrics Metrics; do
  if grep -rlE "^(@testable )?import $m\$" Sources --include='*.swift' | grep -v '^Sources/PushyServer/' >&2; then
    echo "boundary: only PushyServer may import $m (the files above do)" >&2
    status=1
  fi
done

# Storage drivers (issue 17): GRDB belongs to PushyStore, postgres-nio to PushyPostgres.
only_in() {
  local dir=$1; shift
  local m
  for m in "$@"; do
    if grep -rlE "^(@testable )?import $m\$" Sources --include='*.swift' | grep -v "^Sources/$dir/" >&2; then
      echo "boundary: only $dir may import $m (the files above do)" >&2
      status=1
    fi
  done
}
only_in PushyStore GRDB
only_in PushyPostgres PostgresNIO _ConnectionPoolModule

[ "$status" -eq 0 ] && echo "boundaries: ok (pure PushyProtocol/PushyCore, CLI on PushyAPIClient + PushyProtocol, thin pushy, no Foundation in the agent, metrics in PushyServer only, GRDB in PushyStore and postgres-nio in PushyPostgres only)"
exit "$status"
