#!/usr/bin/env bash
# Builds the test suite (no examples or benchmarks) with AddressSanitizer + UndefinedBehaviorSanitizer
# (g++, -Og, assertions on, in build/sanitize) and runs it with CTest, skipping the slow and consumer
# tests to keep it short, then the soak test for NEUROPLAST_SANITIZE_SOAK_SECONDS (default 15). Any
# sanitizer report fails the test that triggered it. Arguments are passed on to ctest (and skip the
# soak run). NEUROPLAST_JOBS sets the build parallelism (default 2), NEUROPLAST_TEST_JOBS how many
# tests run at once (default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/sanitize"
# UBSan without its vptr, alignment and null checks, which instrument every member access and
# reference binding of the template-heavy tests and doubled this build's compile time
# (docs/reliability.md says what they would add and why that is little).
"$root/scripts/sanitized-build.sh" "$build" \
  "-fsanitize=address,undefined -fno-sanitize=vptr,alignment,null -fno-sanitize-recover=all \
   -fno-omit-frame-pointer"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Not the MPI test: the MPI library's own allocations at MPI_Init and MPI_Finalize are reported
# as leaks, which would fail it for reasons outside neuroplast.
ctest --test-dir "$build" --output-on-failure --no-tests=error -LE 'slow|consumer|mpi' \
  -j "${NEUROPLAST_TEST_JOBS:-2}" "$@"
if [ $# -eq 0 ]; then
  # The structural edit paths under memory checks: a short soak (labelled slow, so not run above).
  NEUROPLAST_SOAK_SECONDS="${NEUROPLAST_SANITIZE_SOAK_SECONDS:-15}" \
    ctest --test-dir "$build" --output-on-failure --no-tests=error -L soak
fi
