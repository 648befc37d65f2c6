#!/usr/bin/env bash
# Configures and builds Sluice (Release by default) into build/ with 2 parallel jobs.
# usage: scripts/build.sh [extra cmake args...]   env: BUILD_DIR (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-2}"
