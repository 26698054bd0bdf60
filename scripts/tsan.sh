#!/usr/bin/env bash
# Builds test_core with ThreadSanitizer (g++, -O1, assertions on, in build/tsan) and runs its
# [threads] cases: the worker pool under concurrent callers, products split over threads, and a
# training run with growth on two threads. Any data-race report fails the run. Arguments are
# passed on to the test executable in place of "[threads]". NEUROPLAST_JOBS sets the build
# parallelism (default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/tsan"
sanitizers="-fsanitize=thread -fno-omit-frame-pointer"
# As in sanitize.sh: GCC's flow-based warnings misfire on instrumented code; the main build
# enforces them.
quiet="-Wno-maybe-uninitialized -Wno-array-bounds -Wno-stringop-overflow"

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS="$sanitizers $quiet" \
  -DCMAKE_EXE_LINKER_FLAGS="$sanitizers" \
  -DNEUROPLAST_BUILD_TESTS=ON -DNEUROPLAST_BUILD_EXAMPLES=OFF -DNEUROPLAST_BUILD_BENCHMARKS=OFF
cmake --build "$build" -j "${NEUROPLAST_JOBS:-2}" --target test_core
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}"
# Two workers at least, whatever the machine: the pool is what is under test.
NEUROPLAST_NUM_THREADS="${NEUROPLAST_NUM_THREADS:-2}" "$build/tests/test_core" "${@:-[threads]}"
