#!/usr/bin/env bash
# Configures and builds Sluice (Release by default) into build/ with 2 parallel jobs.
# usage: scripts/build.sh [cmake -D args...] [--target T...]   env: BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
CMAKE_ARGS=()
TARGETS=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--target" ]; then
    shift
    while [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; do TARGETS+=("$1"); shift; done
  else
    CMAKE_ARGS+=("$1"); shift
  fi
done
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "${CMAKE_ARGS[@]}" >/dev/null
if [ "${#TARGETS[@]}" -gt 0 ]; then
  cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target "${TARGETS[@]}"
else
  cmake --build "$BUILD_DIR" -j "${JOBS:-2}"
fi
