#!/usr/bin/env bash
# Builds the libzmq Pushy links: Debian bookworm's libzmq 4.3.4 source (the upstream tarball and
# Debian's patches, fetched with `apt-get source` and checked against pinned SHA-256 sums), with
# two memory constants made smaller and Pushy's patches in scripts/libzmq, as a static library in
# OUT (default .build-zmq). Why: docs/decisions.md "A libzmq built for many connections".
# Idempotent: does nothing when OUT/lib/libzmq.a is already built from the same recipe. Fails
# (exit 1) when the source cannot be fetched; `make` then builds against the system libzmq and
# says so.
#
# The source comes through apt from the Debian archive this machine is already configured for:
# the script copies the system's own `deb` entries as `deb-src` entries into a private source
# list and lets apt keep its index and downloads in CACHE, so the system's apt configuration,
# lists and caches are left as they are. The two source files stay in CACHE (git-ignored), so a
# rebuild (a changed patch or constant) does not fetch again.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-.build-zmq}"

CACHE=.build-zmq-cache
SOURCE="zeromq3=4.3.4-6"
ORIG="zeromq3_4.3.4.orig.tar.gz"
ORIG_SHA256="0ff5a531c9ffaf0dfdc7dc78d13d1383088f454896d252934c429b2554d10559"
DEBIAN="zeromq3_4.3.4-6.debian.tar.xz"
DEBIAN_SHA256="fbb0dcb4ffbf483d416d9af722db74ad4edd7004625ce10381e8cd3a71b6cd58"
# Messages per pipe allocation (upstream 256: a pipe that carries traffic ends up holding two
# 16 KB chunks) and bytes per connection read/write buffer (upstream 8192 each).
PIPE_GRANULARITY=4
IN_BATCH_SIZE=512
OUT_BATCH_SIZE=1024
# Pushy's own patches, applied after Debian's (each says why at its top).
PATCHES=(scripts/libzmq/write-first.patch)
RECIPE="4.3.4-6 granularity=$PIPE_GRANULARITY batch=$IN_BATCH_SIZE/$OUT_BATCH_SIZE patches=$(cat "${PATCHES[@]}" | sha256sum | cut -c1-12)"

if [ -f "$OUT/lib/libzmq.a" ] && [ "$(cat "$OUT/recipe" 2>/dev/null)" = "$RECIPE" ]; then
  exit 0
fi
command -v cmake >/dev/null || { echo "build-libzmq: cmake is missing (make deps installs it)" >&2; exit 1; }

have() { # name sha256: the file is in CACHE with its pinned sum
  [ -f "$CACHE/$1" ] && echo "$2  $CACHE/$1" | sha256sum -c --quiet - >/dev/null 2>&1
}
# apt with a private source list (the system's `deb` entries as `deb-src`), index and cache.
apt_private() {
  local a="$PWD/$CACHE/apt" sl="" sp="" f
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
  rm -rf "$a/sources.list.d" && mkdir -p "$a/sources.list.d"
  eval "$(apt-config shell sl Dir::Etc::sourcelist/f sp Dir::Etc::sourceparts/d)"
  # One-line format: `deb [options] uri suite components` -> `deb-src ...` (other lines dropped).
  { [ -f "$sl" ] && sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$sl"
    for f in "$sp"/*.list; do [ -f "$f" ] && sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f"; done
  } > "$a/sources.list" || true
  # deb822 format: every stanza's Types becomes deb-src (Enabled: no and the rest kept).
  for f in "$sp"/*.sources; do
    [ -f "$f" ] && sed 's/^Types:.*/Types: deb-src/I' "$f" > "$a/sources.list.d/$(basename "$f")"
  done
  if ! [ -s "$a/sources.list" ] && ! compgen -G "$a/sources.list.d/*.sources" >/dev/null; then
    echo "build-libzmq: apt has no deb entries to take deb-src entries from ($sl, $sp)" >&2; return 1
  fi
  cat > "$a/apt.conf" <<CONF
Dir::Etc::SourceList "$a/sources.list";
Dir::Etc::SourceParts "$a/sources.list.d";
Dir::State::Lists "$a/lists/";
Dir::Cache "$a/cache/";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
Acquire::Retries "3";
CONF
  # As root apt downloads as the user _apt, who may not reach CACHE; download as root instead.
  [ "$(id -u)" -eq 0 ] && echo 'APT::Sandbox::User "root";' >> "$a/apt.conf"
  APT_PRIVATE=(apt-get -q -c "$a/apt.conf")
}
fetch_source() {
  have "$ORIG" "$ORIG_SHA256" && have "$DEBIAN" "$DEBIAN_SHA256" && return 0
  command -v apt-get >/dev/null || { echo "build-libzmq: apt-get is missing" >&2; return 1; }
  mkdir -p "$CACHE"
  apt_private || return 1
  local dl="$CACHE/download" log="$PWD/$CACHE/apt.log" n
  rm -rf "$dl" && mkdir -p "$dl"
  : > "$log"
  # The index from an earlier run is tried first; `apt-get update` only when there is none or
  # it does not have the pinned version.
  get() { (cd "$dl" && "${APT_PRIVATE[@]}" source --download-only --only-source "$SOURCE") >> "$log" 2>&1; }
  if ! { compgen -G "$CACHE/apt/lists/*_Sources*" >/dev/null && get; }; then
    echo "build-libzmq: apt-get update (deb-src index of the configured archive, kept in $CACHE)" >&2
    "${APT_PRIVATE[@]}" update >> "$log" 2>&1 || true # an entry without deb-src fails alone
    get || {
      echo "build-libzmq: could not get the source with apt-get source $SOURCE (all of apt's output: $log):" >&2
      grep -E '^(E|W):' "$log" | sed -n '1p;$p' | uniq | sed 's/^/  /' >&2
      return 1
    }
  fi
  for n in "$ORIG:$ORIG_SHA256" "$DEBIAN:$DEBIAN_SHA256"; do
    [ -f "$dl/${n%%:*}" ] || { echo "build-libzmq: apt-get source $SOURCE gave no ${n%%:*}" >&2; return 1; }
    echo "${n#*:}  $dl/${n%%:*}" | sha256sum -c --quiet - >/dev/null 2>&1 \
      || { echo "build-libzmq: ${n%%:*} does not match its pinned SHA-256" >&2; return 1; }
    mv "$dl/${n%%:*}" "$CACHE/${n%%:*}"
  done
  rm -rf "$dl"
}
work="$OUT/src"
rm -rf "$OUT" # first: a failed fetch leaves no library from another recipe to link
mkdir -p "$work"
fetch_source || exit 1
tar -xzf "$CACHE/$ORIG" -C "$work"
tar -xJf "$CACHE/$DEBIAN" -C "$work/libzmq-4.3.4"
src="$work/libzmq-4.3.4"
while read -r patch; do
  case "$patch" in ''|'#'*) continue ;; esac
  patch -s -p1 -d "$src" < "$src/debian/patches/$patch"
done < "$src/debian/patches/series"

for p in "${PATCHES[@]}"; do
  patch -s -p1 -d "$src" < "$p" || { echo "build-libzmq: $p does not apply" >&2; exit 1; }
done

sed -i "s/message_pipe_granularity = 256,/message_pipe_granularity = $PIPE_GRANULARITY,/" "$src/src/config.hpp"
sed -i "s/in_batch_size (8192),/in_batch_size ($IN_BATCH_SIZE),/; s/out_batch_size (8192),/out_batch_size ($OUT_BATCH_SIZE),/" "$src/src/options.cpp"
grep -q "message_pipe_granularity = $PIPE_GRANULARITY," "$src/src/config.hpp"
grep -q "in_batch_size ($IN_BATCH_SIZE)" "$src/src/options.cpp"
grep -q "out_batch_size ($OUT_BATCH_SIZE)" "$src/src/options.cpp"

cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DBUILD_SHARED=OFF -DBUILD_STATIC=ON -DBUILD_TESTS=OFF -DWITH_DOCS=OFF -DWITH_PERF_TOOL=OFF \
  -DENABLE_DRAFTS=OFF -DWITH_LIBSODIUM=ON -DENABLE_CURVE=ON -DWITH_LIBBSD=OFF -DENABLE_CPACK=OFF \
  -DCMAKE_INSTALL_PREFIX="$PWD/$OUT" > "$OUT/cmake.log" 2>&1 \
  || { echo "build-libzmq: cmake failed (see $OUT/cmake.log)" >&2; exit 1; }
cmake --build "$work/build" --target libzmq-static -j "$(nproc)" > "$OUT/build.log" 2>&1 \
  || { echo "build-libzmq: compile failed (see $OUT/build.log)" >&2; exit 1; }
mkdir -p "$OUT/lib"
cp "$work/build/lib/libzmq.a" "$OUT/lib/libzmq.a"
rm -rf "$work"
echo "$RECIPE" > "$OUT/recipe"
# Executables linked before this library existed would keep the system one: make them relink.
rm -f .build*/*/pushy .build*/*/pushy-server .build*/*/pushy-client .build*/*/pushy-swarm .build*/*/pushy-bench
rm -rf .build*/*/pushyPackageTests.xctest
echo "build-libzmq: $OUT/lib/libzmq.a ($RECIPE)"
