#!/usr/bin/env bash
# Quick start, part 2: installs dependencies, builds, and runs the whole test suite:
# unit tests, end-to-end and differential tests, the external conformance suites
# (../shared/conformance), then the unit tests again under ASan/UBSan, and the runtime and
# end-to-end tests (multi-threaded jobs at parallelism 1..4) under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DSLUICE_WERROR=ON
(cd build && ctest --output-on-failure -j 2 --timeout 900)
if [ "${SLUICE_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== ASan/UBSan build of the unit tests =="
  BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo scripts/build.sh -DSLUICE_SANITIZE=address,undefined -DSLUICE_BUILD_BENCH=OFF
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     ctest --output-on-failure -j 2 --timeout 900 -E 'conformance')
fi
if [ "${SLUICE_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== ThreadSanitizer build of the runtime and end-to-end tests =="
  BUILD_DIR=build-tsan BUILD_TYPE=RelWithDebInfo scripts/build.sh -DSLUICE_SANITIZE=thread -DSLUICE_BUILD_BENCH=OFF \
    --target sluice runtime_test engine_test e2e_test
  (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j 2 --timeout 900 \
     -R 'WatermarkTracker|Differential|Follow|Idle|Cli|Cases|TopN|AllowedLateness|CrashTest|Engine|JobHandle')
fi
