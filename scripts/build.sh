#!/usr/bin/env bash
# Configures and builds one CMake preset (see CMakePresets.json):
#   scripts/build.sh [default|asan|tsan|fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
case "$preset" in
  default) dir=build ;;
  asan) dir=build-asan ;;
  tsan) dir=build-tsan ;;
  fuzz) dir=build-fuzz ;;
  *) echo "build.sh: unknown preset '$preset' (default, asan, tsan, fuzz)" >&2; exit 2 ;;
esac
# ccache hits across checkouts (CI builds a fresh clone elsewhere): paths relative to the repo.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
cmake --preset "$preset" >/dev/null
cmake --build "$dir" -j "$(nproc)"
