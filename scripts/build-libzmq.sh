#!/usr/bin/env bash
# Builds the libzmq Pushy links: Debian bookworm's libzmq 4.3.4 source (the upstream tarball and
# Debian's patches, both checked against pinned SHA-256 sums), with two memory constants made
# smaller and Pushy's patches in scripts/libzmq, as a static library in OUT (default
# .build-zmq). Why: docs/decisions.md "A libzmq built for many connections". Idempotent: does nothing when OUT/lib/libzmq.a is already built from
# the same recipe. Fails (exit 1) when the source cannot be fetched; `make` then builds against
# the system libzmq and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-.build-zmq}"

POOL="http://deb.debian.org/debian/pool/main/z/zeromq3"
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

work="$OUT/src"
rm -rf "$OUT"
mkdir -p "$work"
fetch() { # name sha256
  curl -fsS --retry 3 -m 120 -o "$work/$1" "$POOL/$1" || { echo "build-libzmq: could not download $POOL/$1" >&2; return 1; }
  echo "$2  $work/$1" | sha256sum -c --quiet - || { echo "build-libzmq: $1 does not match its pinned SHA-256" >&2; return 1; }
}
fetch "$ORIG" "$ORIG_SHA256"
fetch "$DEBIAN" "$DEBIAN_SHA256"
tar -xzf "$work/$ORIG" -C "$work"
tar -xJf "$work/$DEBIAN" -C "$work/libzmq-4.3.4"
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
