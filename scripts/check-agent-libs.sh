#!/usr/bin/env bash
# The agent without Foundation (docs/decisions.md "The agent without Foundation"): pushy-client
# must not need libFoundation.so, libFoundationInternationalization.so or lib_FoundationICU.so
# (about 8.5 MiB of RSS per agent process). FoundationEssentials is fine. Reads the built
# binary's NEEDED entries; no build.
#   scripts/check-agent-libs.sh [BIN_DIR]     (BIN_DIR default .build/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug}
client="$BIN/pushy-client"
[ -x "$client" ] || { echo "agent-libs: $client is missing (swift build first)" >&2; exit 1; }
needed=$(readelf -d "$client" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
bad=$(grep -E '^(libFoundation\.so|libFoundationInternationalization\.so|lib_FoundationICU\.so)' <<<"$needed" || true)
if [ -n "$bad" ]; then
  echo "agent-libs: $client needs $(tr '\n' ' ' <<<"$bad")" >&2
  echo "agent-libs: a module pushy-client links imports Foundation; import FoundationEssentials there and" >&2
  echo "agent-libs: replace the Foundation-only API (find it: readelf -p .swift1_autolink_entries on the" >&2
  echo "agent-libs: module's .o files under $BIN/*.build, look for -lFoundation). An incremental build keeps" >&2
  echo "agent-libs: stale entries in files it did not recompile: touch the module's sources and build again." >&2
  exit 1
fi
echo "agent-libs: ok ($client needs no libFoundation, libFoundationInternationalization or lib_FoundationICU)"
