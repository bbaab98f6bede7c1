#!/usr/bin/env bash
# The agent without Foundation (docs/decisions.md "The agent without Foundation"): pushy-client
# must not need libFoundation.so, libFoundationInternationalization.so or lib_FoundationICU.so
# (about 8.5 MiB of RSS per agent process). FoundationEssentials is fine. Reads the built
# binary's NEEDED entries. An incremental build can leave object files compiled when their
# module still imported Foundation (their autolink entries name it although the sources no
# longer do): those are removed and the client rebuilt once before the verdict.
#   scripts/check-agent-libs.sh [BIN_DIR]     (BIN_DIR default .build/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug}
client="$BIN/pushy-client"
# The modules pushy-client links, as source directories and as build directories.
sources=(Sources/PushyProtocol Sources/PushyCore Sources/PushyZMQ Sources/PushyAgent Sources/PushyAPIClient Sources/pushy-client)
builds=(PushyProtocol PushyCore PushyZMQ PushyAgent PushyAPIClient pushy_client)

[ -x "$client" ] || { echo "agent-libs: $client is missing (swift build first)" >&2; exit 1; }

bad_libs() {
  readelf -d "$client" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p' |
    grep -E '^(libFoundation\.so|libFoundationInternationalization\.so|lib_FoundationICU\.so)' || true
}

# Object files of those modules whose autolink entries name Foundation.
linking_objects() {
  for m in "${builds[@]}"; do
    for o in "$BIN/$m.build"/*.o; do
      [ -e "$o" ] || continue
      if readelf -p .swift1_autolink_entries "$o" 2>/dev/null | grep -qE -- '-lFoundation$'; then echo "$o"; fi
    done
  done
}

bad=$(bad_libs)
if [ -n "$bad" ] && ! grep -rqE '^[[:space:]]*(@[[:alnum:]_]+ )*((public|package|internal) )?import( [[:alnum:]_]+)? Foundation([.[:space:]]|$)' "${sources[@]}"; then
  stale=$(linking_objects)
  if [ -n "$stale" ]; then
    echo "agent-libs: $(wc -l <<<"$stale") object file(s) predate the move off Foundation; rebuilding them"
    xargs rm -f <<<"$stale"
    # The same flags as the build that made $BIN (make-test.sh passes SWIFT_BUILD_FLAGS on).
    # shellcheck disable=SC2086
    swift build --build-tests ${SWIFT_BUILD_FLAGS:-} >/dev/null
    bad=$(bad_libs)
  fi
fi
if [ -n "$bad" ]; then
  echo "agent-libs: $client needs $(tr '\n' ' ' <<<"$bad")" >&2
  echo "agent-libs: a module pushy-client links imports Foundation (or a dependency does); import" >&2
  echo "agent-libs: FoundationEssentials there and replace the Foundation-only API. To find it:" >&2
  echo "agent-libs: readelf -p .swift1_autolink_entries on the .o files under $BIN/*.build, look for -lFoundation." >&2
  exit 1
fi
echo "agent-libs: ok ($client needs no libFoundation, libFoundationInternationalization or lib_FoundationICU)"
