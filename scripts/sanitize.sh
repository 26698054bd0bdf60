#!/usr/bin/env bash
# Builds the test suite (no examples or benchmarks) with AddressSanitizer + UndefinedBehaviorSanitizer
# (g++, -O1, assertions on, in build/sanitize) and runs it with CTest, skipping the slow and consumer
# tests to keep it short, then the soak test for NEUROPLAST_SANITIZE_SOAK_SECONDS (default 15). Any
# sanitizer report fails the test that triggered it. Arguments are passed on to ctest (and skip the
# soak run). NEUROPLAST_JOBS sets the build parallelism (default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/sanitize"
sanitizers="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# -g1: line tables are all a sanitizer's stack trace needs, and full debug info of these
# template-heavy tests costs much compile time.
# GCC's flow-based warnings misfire on instrumented code (in libstdc++'s own headers); the main
# build (scripts/test.sh) enforces them.
quiet="-Wno-maybe-uninitialized -Wno-array-bounds -Wno-stringop-overflow"

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS="$sanitizers $quiet" \
  -DCMAKE_EXE_LINKER_FLAGS="$sanitizers" \
  -DNEUROPLAST_BUILD_TESTS=ON -DNEUROPLAST_BUILD_EXAMPLES=OFF -DNEUROPLAST_BUILD_BENCHMARKS=OFF
cmake --build "$build" -j "${NEUROPLAST_JOBS:-2}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build" --output-on-failure --no-tests=error -LE 'slow|consumer' "$@"
if [ $# -eq 0 ]; then
  # The structural edit paths under memory checks: a short soak (labelled slow, so not run above).
  NEUROPLAST_SOAK_SECONDS="${NEUROPLAST_SANITIZE_SOAK_SECONDS:-15}" \
    ctest --test-dir "$build" --output-on-failure --no-tests=error -L soak
fi
