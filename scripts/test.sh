#!/usr/bin/env bash
# Quick start, part 2: installs dependencies, builds, and runs the whole test suite:
# end-to-end and differential tests and the external conformance suites
# (../shared/conformance) against the release binary, then the unit tests and the
# end-to-end tests under ASan/UBSan (SLUICE_SKIP_SANITIZERS=1: the unit tests in the release
# build instead), and the runtime and end-to-end tests (multi-threaded jobs at parallelism 1..4)
# under ThreadSanitizer. The sanitizer stages build the binary and the unit tests; the
# end-to-end tests (built once, in build/) drive their binary through $SLUICE_BINARY; a
# test failing there is rerun once (IdleTimeoutTest has failed intermittently under ASan on
# a loaded machine; see the session notes) and its first failure stays in the log.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each stage's duration, printed at the end (also when a stage fails), to keep CI's time
# in view.
STAGES=""
STAGE_NAME="" STAGE_START=$SECONDS
stage() {
  if [ -n "$STAGE_NAME" ]; then STAGES+="  $STAGE_NAME: $((SECONDS - STAGE_START)) s"$'\n'; fi
  STAGE_NAME="$1" STAGE_START=$SECONDS
}
trap 'stage ""; printf "== stage times ==\n%s  total: %d s\n" "$STAGES" "$SECONDS"' EXIT
# Tests run 4 at a time on the 2 cores: most of their time is spent waiting (servers
# starting, jobs killed and restarted, rate-limited sources), so ctest -j2 used about a fifth
# of the CPU (3.4 CPU-minutes in 8 minutes); -j4 took 5.7 minutes instead of 8.2 with every
# test passing, on a machine loaded with other builds. Builds stay at 2 jobs.
CTEST_JOBS=${CTEST_JOBS:-4}
SANITIZERS=1
[ "${SLUICE_SKIP_SANITIZERS:-0}" = "1" ] && SANITIZERS=0
stage "install dependencies"
scripts/install-deps.sh
stage "build"
# With the sanitizer stages the unit tests are built and run there (under ASan/UBSan) only.
UNIT_TESTS=ON
[ "$SANITIZERS" = "1" ] && UNIT_TESTS=OFF
scripts/build.sh -DSLUICE_WERROR=ON -DSLUICE_BUILD_UNIT_TESTS=$UNIT_TESTS
stage "tests"
(cd build && ctest --output-on-failure -j "$CTEST_JOBS" --timeout 900)
if [ "$SANITIZERS" = "1" ]; then
  echo "== ASan/UBSan build of the binary and the unit tests =="
  stage "ASan/UBSan build"
  BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo scripts/build.sh -DSLUICE_SANITIZE=address,undefined \
    -DSLUICE_BUILD_BENCH=OFF -DSLUICE_BUILD_E2E_TESTS=OFF
  stage "ASan/UBSan tests"
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  (cd build-asan && ctest --output-on-failure -j "$CTEST_JOBS" --timeout 900)
  (cd build && SLUICE_BINARY="$PWD/../build-asan/sluice" SLUICE_SANITIZED=address \
     ctest --output-on-failure -j "$CTEST_JOBS" --timeout 900 -L e2e --repeat until-pass:2)
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi
if [ "$SANITIZERS" = "1" ]; then
  echo "== ThreadSanitizer build of the binary and the runtime tests =="
  stage "TSan build"
  BUILD_DIR=build-tsan BUILD_TYPE=RelWithDebInfo scripts/build.sh -DSLUICE_SANITIZE=thread -DSLUICE_BUILD_BENCH=OFF \
    -DSLUICE_BUILD_E2E_TESTS=OFF --target sluice runtime_test engine_test
  stage "TSan tests"
  export TSAN_OPTIONS=halt_on_error=1
  TSAN_TESTS='WatermarkTracker|Differential|Follow|Idle|Cli|Cases|TopN|AllowedLateness|CrashTest|Engine|JobHandle'
  (cd build-tsan && ctest --output-on-failure -j "$CTEST_JOBS" --timeout 900 -R "$TSAN_TESTS")
  # Jobs on Kafka are left out: librdkafka is not instrumented, and TSan, seeing its threads
  # free memory, crashes while unwinding for a report (ExamplesKafkaTest matched 'Cli').
  (cd build && SLUICE_BINARY="$PWD/../build-tsan/sluice" SLUICE_SANITIZED=thread \
     ctest --output-on-failure -j "$CTEST_JOBS" --timeout 900 -L e2e -R "$TSAN_TESTS" -E 'Kafka' --repeat until-pass:2)
  unset TSAN_OPTIONS
fi
